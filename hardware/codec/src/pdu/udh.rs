//! The user data header (TS 23.040 §9.2.3.24): information elements in front of the text,
//! of which this crate interprets concatenation (IEI 0x00 with an 8-bit reference, IEI 0x08
//! with a 16-bit reference) and keeps the rest as opaque elements.
//!
//! A concatenation element with a zero part count or a sequence number outside 1..=total is
//! not treated as concatenation (the spec tells the receiver to ignore it), so such a part is
//! shown on its own instead of waiting for companions that cannot exist.
//!
//! Limits: the header lives inside the 140 user-data octets, so it is at most
//! [`USER_DATA_HEADER_OCTETS_MAX`] octets including its length octet.

use super::PduError;

/// The header's length octet counts the octets after it; all of it must fit the 140 octets
/// of user data.
pub const USER_DATA_HEADER_OCTETS_MAX: usize = 140;

/// IEI for concatenation with an 8-bit reference.
pub const IEI_CONCATENATION_8BIT: u8 = 0x00;
/// IEI for concatenation with a 16-bit reference.
pub const IEI_CONCATENATION_16BIT: u8 = 0x08;

/// One information element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InformationElement {
    /// The information element identifier (IEI).
    pub identifier: u8,
    /// Its data (at most 138 octets, as it must fit the header).
    pub data: Vec<u8>,
}

/// The reference number that ties the parts of a concatenated message together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConcatReference {
    /// IEI 0x00: one octet, 6 header octets, 153 septets / 67 UCS-2 units of text per part.
    Eight(u8),
    /// IEI 0x08: two octets, 7 header octets, 152 septets / 66 UCS-2 units of text per part.
    Sixteen(u16),
}

/// Where a part sits in a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concatenation {
    /// The reference shared by all parts.
    pub reference: ConcatReference,
    /// Number of parts (1..=255).
    pub total: u8,
    /// This part's number (1..=total).
    pub sequence: u8,
}

impl Concatenation {
    /// The information element for this part.
    pub fn to_element(&self) -> InformationElement {
        match self.reference {
            ConcatReference::Eight(reference) => InformationElement {
                identifier: IEI_CONCATENATION_8BIT,
                data: vec![reference, self.total, self.sequence],
            },
            ConcatReference::Sixteen(reference) => {
                let [high, low] = reference.to_be_bytes();
                InformationElement {
                    identifier: IEI_CONCATENATION_16BIT,
                    data: vec![high, low, self.total, self.sequence],
                }
            }
        }
    }

    fn from_element(element: &InformationElement) -> Option<Self> {
        let (reference, total, sequence) = match (element.identifier, element.data.as_slice()) {
            (IEI_CONCATENATION_8BIT, &[reference, total, sequence]) => {
                (ConcatReference::Eight(reference), total, sequence)
            }
            (IEI_CONCATENATION_16BIT, &[high, low, total, sequence]) => (
                ConcatReference::Sixteen(u16::from_be_bytes([high, low])),
                total,
                sequence,
            ),
            _ => return None,
        };
        (total >= 1 && (1..=total).contains(&sequence)).then_some(Concatenation {
            reference,
            total,
            sequence,
        })
    }
}

/// A user data header: a list of information elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UserDataHeader {
    /// The elements in order.
    pub elements: Vec<InformationElement>,
}

impl UserDataHeader {
    /// A header holding just a concatenation element.
    pub fn concatenation(concatenation: Concatenation) -> Self {
        UserDataHeader {
            elements: vec![concatenation.to_element()],
        }
    }

    /// The first valid concatenation element, if any.
    pub fn concatenation_info(&self) -> Option<Concatenation> {
        self.elements.iter().find_map(Concatenation::from_element)
    }

    /// Octets the header takes, including its length octet.
    pub fn encoded_len(&self) -> usize {
        1 + self
            .elements
            .iter()
            .map(|element| 2 + element.data.len())
            .sum::<usize>()
    }

    /// Appends the header, including its length octet.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let length = self.encoded_len();
        if length > USER_DATA_HEADER_OCTETS_MAX {
            return Err(PduError::UserDataTooLong { length });
        }
        out.push((length - 1) as u8);
        for element in &self.elements {
            out.push(element.identifier);
            out.push(element.data.len() as u8);
            out.extend_from_slice(&element.data);
        }
        Ok(())
    }

    /// Decodes a header from the start of the user data; returns it and the octets it took.
    pub(crate) fn decode(user_data: &[u8]) -> Result<(Self, usize), PduError> {
        let declared = usize::from(*user_data.first().ok_or(PduError::MalformedHeader)?);
        let body = user_data
            .get(1..1 + declared)
            .ok_or(PduError::MalformedHeader)?;
        let mut elements = Vec::new();
        let mut position = 0;
        while position < body.len() {
            let identifier = body[position];
            let length = usize::from(*body.get(position + 1).ok_or(PduError::MalformedHeader)?);
            let data = body
                .get(position + 2..position + 2 + length)
                .ok_or(PduError::MalformedHeader)?;
            elements.push(InformationElement {
                identifier,
                data: data.to_vec(),
            });
            position += 2 + length;
        }
        Ok((UserDataHeader { elements }, 1 + declared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenation_elements_round_trip() {
        for reference in [
            ConcatReference::Eight(0xA5),
            ConcatReference::Sixteen(0xBEEF),
        ] {
            let concatenation = Concatenation {
                reference,
                total: 3,
                sequence: 2,
            };
            let header = UserDataHeader::concatenation(concatenation);
            let mut bytes = Vec::new();
            assert_eq!(header.encode(&mut bytes), Ok(()));
            assert_eq!(bytes.len(), header.encoded_len());
            let (decoded, used) = UserDataHeader::decode(&bytes).unwrap_or_default();
            assert_eq!(used, bytes.len());
            assert_eq!(decoded.concatenation_info(), Some(concatenation));
        }
    }

    #[test]
    fn invalid_concatenation_is_ignored_and_overruns_are_errors() {
        let zero_sequence = UserDataHeader::decode(&[5, 0, 3, 1, 2, 0]);
        assert_eq!(zero_sequence.map(|(h, _)| h.concatenation_info()), Ok(None));
        assert_eq!(
            UserDataHeader::decode(&[5, 0, 4, 1, 2, 1]),
            Err(PduError::MalformedHeader)
        );
        assert_eq!(
            UserDataHeader::decode(&[9, 0]),
            Err(PduError::MalformedHeader)
        );
    }
}
