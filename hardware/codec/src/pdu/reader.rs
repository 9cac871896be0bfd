//! A bounds-checked cursor over PDU octets: every read either succeeds or returns
//! [`PduError::Truncated`] naming the field, so decoders never index out of range.

use super::PduError;

/// Reads octets front to back.
#[derive(Debug)]
pub(crate) struct ByteReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        ByteReader { bytes, position: 0 }
    }

    /// The next octet.
    pub(crate) fn byte(&mut self, field: &'static str) -> Result<u8, PduError> {
        let byte = *self
            .bytes
            .get(self.position)
            .ok_or(PduError::Truncated { field })?;
        self.position += 1;
        Ok(byte)
    }

    /// The next `count` octets.
    pub(crate) fn take(&mut self, count: usize, field: &'static str) -> Result<&'a [u8], PduError> {
        let end = self
            .position
            .checked_add(count)
            .ok_or(PduError::Truncated { field })?;
        let slice = self
            .bytes
            .get(self.position..end)
            .ok_or(PduError::Truncated { field })?;
        self.position = end;
        Ok(slice)
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = self.bytes.get(self.position..).unwrap_or(&[]);
        self.position = self.bytes.len();
        rest
    }

    /// Octets not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.position)
    }
}
