//! The three TPDUs this project meets (TS 23.040 §9.2.2): SMS-SUBMIT (what the host asks the
//! modem to send), SMS-DELIVER (what a farmer's phone sent us) and SMS-STATUS-REPORT (whether
//! our message arrived), plus the SMSC address that PDU mode puts in front of them
//! (TS 27.005 §3.1).
//!
//! SMS-SUBMIT decodes too, and DELIVER and STATUS-REPORT encode too, because the modem
//! simulator plays the network: it receives what the host submits and delivers what a farmer
//! sends.
//!
//! Decoding is strict: the first octet's message type must match, every field must be
//! present, and the user data must be exactly as long as declared. Status reports are the one
//! lenient case: octets after a report that declares no user data are ignored, because some
//! SMSCs pad them.

use super::PduError;
use super::address::Address;
use super::dcs::DataCoding;
use super::reader::ByteReader;
use super::time::{SmscTimestamp, ValidityPeriod};
use super::user_data::UserData;
use crate::hex;

const MTI_DELIVER: u8 = 0b00;
const MTI_SUBMIT: u8 = 0b01;
const MTI_STATUS_REPORT: u8 = 0b10;
const MTI_RESERVED: u8 = 0b11;

const BIT_MMS_OR_RD: u8 = 0x04;
const BIT_LOOP_PREVENTION: u8 = 0x08;
const BIT_STATUS_REPORT: u8 = 0x20;
const BIT_UDHI: u8 = 0x40;
const BIT_REPLY_PATH: u8 = 0x80;

/// An SMS-SUBMIT: a message from this node to a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSubmit {
    /// TP-RD: ask the SMSC to reject a duplicate of a message still queued.
    pub reject_duplicates: bool,
    /// TP-RP: reply path requested.
    pub reply_path: bool,
    /// TP-SRR: ask for an SMS-STATUS-REPORT.
    pub status_report_request: bool,
    /// TP-MR; modems overwrite it with their own counter and report it in `+CMGS:`.
    pub message_reference: u8,
    /// TP-DA: the recipient.
    pub destination: Address,
    /// TP-PID (0 for ordinary messages).
    pub protocol_identifier: u8,
    /// TP-DCS.
    pub data_coding: DataCoding,
    /// TP-VP, which also sets TP-VPF.
    pub validity_period: Option<ValidityPeriod>,
    /// TP-UDL and TP-UD (its header sets TP-UDHI).
    pub user_data: UserData,
}

/// An SMS-DELIVER: a message from a phone to this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsDeliver {
    /// TP-MMS read the intuitive way: true when the SMSC holds more messages for us.
    pub more_messages_waiting: bool,
    /// TP-LP: loop prevention.
    pub loop_prevention: bool,
    /// TP-RP: reply path.
    pub reply_path: bool,
    /// TP-SRI: the sender asked for a status report.
    pub status_report_indication: bool,
    /// TP-OA: the sender.
    pub originator: Address,
    /// TP-PID.
    pub protocol_identifier: u8,
    /// TP-DCS.
    pub data_coding: DataCoding,
    /// TP-SCTS: when the SMSC received it.
    pub timestamp: SmscTimestamp,
    /// TP-UDL and TP-UD.
    pub user_data: UserData,
}

/// TP-ST: what became of a submitted message (TS 23.040 §9.2.3.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryStatus(pub u8);

/// The broad meaning of a [`DeliveryStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryOutcome {
    /// 0x00..=0x1F: the transaction completed (delivered, forwarded, replaced).
    Delivered,
    /// 0x20..=0x3F: a temporary error; the SMSC keeps trying, another report will follow.
    StillTrying,
    /// 0x40..=0x7F: a permanent error, or a temporary one the SMSC gave up on.
    Failed,
    /// 0x80..=0xFF: reserved values.
    Unknown,
}

impl DeliveryStatus {
    /// The broad meaning of the status.
    pub fn outcome(self) -> DeliveryOutcome {
        match self.0 {
            0x00..=0x1F => DeliveryOutcome::Delivered,
            0x20..=0x3F => DeliveryOutcome::StillTrying,
            0x40..=0x7F => DeliveryOutcome::Failed,
            _ => DeliveryOutcome::Unknown,
        }
    }
}

/// An SMS-STATUS-REPORT: the SMSC's word on an earlier SMS-SUBMIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsStatusReport {
    /// TP-MMS read the intuitive way: true when the SMSC holds more messages for us.
    pub more_messages_waiting: bool,
    /// TP-LP: loop prevention.
    pub loop_prevention: bool,
    /// TP-SRQ: true when this reports on an SMS-COMMAND rather than an SMS-SUBMIT.
    pub reports_on_command: bool,
    /// TP-MR of the submitted message (the number `+CMGS:` returned).
    pub message_reference: u8,
    /// TP-RA: the recipient of the submitted message.
    pub recipient: Address,
    /// TP-SCTS: when the SMSC received the submitted message.
    pub timestamp: SmscTimestamp,
    /// TP-DT: when the status below was reached.
    pub discharge_time: SmscTimestamp,
    /// TP-ST.
    pub status: DeliveryStatus,
    /// TP-PID, when present.
    pub protocol_identifier: Option<u8>,
    /// TP-DCS, when present.
    pub data_coding: Option<DataCoding>,
    /// TP-UD, when present.
    pub user_data: Option<UserData>,
}

/// How the SMSC field in front of a PDU for `AT+CMGS` is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmscField {
    /// No SMSC field at all: the TPDU alone (for the few modems that want that).
    Omitted,
    /// The single octet `00`: "use the SMSC stored in the modem" (`AT+CSCA`). The usual case.
    Default,
    /// An explicit SMSC address.
    Address(Address),
}

/// A PDU ready for the modem: the octets, and the TPDU length `AT+CMGS=<length>` wants
/// (the octets without the SMSC field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPdu {
    bytes: Vec<u8>,
    tpdu_length: usize,
}

impl EncodedPdu {
    /// Octets of a PDU that starts with an SMSC field, as a modem prints and reads them.
    pub fn with_smsc(bytes: Vec<u8>) -> Result<Self, PduError> {
        let smsc_octets = usize::from(*bytes.first().ok_or(PduError::Truncated { field: "smsc" })?);
        let tpdu_length = bytes
            .len()
            .checked_sub(1 + smsc_octets)
            .ok_or(PduError::Truncated { field: "smsc" })?;
        Ok(EncodedPdu { bytes, tpdu_length })
    }

    /// Octets of a bare TPDU (no SMSC field).
    pub fn without_smsc(bytes: Vec<u8>) -> Self {
        let tpdu_length = bytes.len();
        EncodedPdu { bytes, tpdu_length }
    }

    /// The octets, SMSC field included when there is one.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Octets of the TPDU alone: the `<length>` of `AT+CMGS=<length>`.
    pub fn tpdu_length(&self) -> usize {
        self.tpdu_length
    }

    /// The octets as upper-case hex, as PDU mode sends them.
    pub fn to_hex(&self) -> String {
        hex::encode_upper(&self.bytes)
    }
}

fn flag(condition: bool, bit: u8) -> u8 {
    if condition { bit } else { 0 }
}

impl SmsSubmit {
    /// Encodes the TPDU (no SMSC field).
    pub fn encode_tpdu(&self) -> Result<Vec<u8>, PduError> {
        check_alphabet(self.data_coding, &self.user_data)?;
        let vpf = self
            .validity_period
            .map_or(0, |period| period.format_bits());
        let first = MTI_SUBMIT
            | flag(self.reject_duplicates, BIT_MMS_OR_RD)
            | (vpf << 3)
            | flag(self.status_report_request, BIT_STATUS_REPORT)
            | flag(self.user_data.header.is_some(), BIT_UDHI)
            | flag(self.reply_path, BIT_REPLY_PATH);
        let mut out = vec![first, self.message_reference];
        self.destination.encode_tp(&mut out)?;
        out.push(self.protocol_identifier);
        out.push(self.data_coding.octet());
        if let Some(period) = &self.validity_period {
            period.encode(&mut out);
        }
        self.user_data.encode(&mut out)?;
        Ok(out)
    }

    /// Decodes a TPDU (no SMSC field).
    pub fn decode_tpdu(tpdu: &[u8]) -> Result<Self, PduError> {
        let mut reader = ByteReader::new(tpdu);
        let first = reader.byte("first octet")?;
        expect_type(first, MTI_SUBMIT)?;
        let message_reference = reader.byte("message reference")?;
        let destination = Address::decode_tp(&mut reader)?;
        let protocol_identifier = reader.byte("protocol identifier")?;
        let data_coding = DataCoding::from_octet(reader.byte("data coding")?);
        let validity_period = ValidityPeriod::decode(first >> 3, &mut reader)?;
        let length = reader.byte("user data length")?;
        let user_data = UserData::decode(
            length,
            data_coding.alphabet(),
            first & BIT_UDHI != 0,
            reader.rest(),
        )?;
        Ok(SmsSubmit {
            reject_duplicates: first & BIT_MMS_OR_RD != 0,
            reply_path: first & BIT_REPLY_PATH != 0,
            status_report_request: first & BIT_STATUS_REPORT != 0,
            message_reference,
            destination,
            protocol_identifier,
            data_coding,
            validity_period,
            user_data,
        })
    }

    /// Encodes for `AT+CMGS` with the given SMSC field.
    pub fn to_modem_pdu(&self, smsc: &SmscField) -> Result<EncodedPdu, PduError> {
        let tpdu = self.encode_tpdu()?;
        prefix_smsc(smsc, tpdu)
    }
}

impl SmsDeliver {
    /// Encodes the TPDU (no SMSC field).
    pub fn encode_tpdu(&self) -> Result<Vec<u8>, PduError> {
        check_alphabet(self.data_coding, &self.user_data)?;
        let first = MTI_DELIVER
            | flag(!self.more_messages_waiting, BIT_MMS_OR_RD)
            | flag(self.loop_prevention, BIT_LOOP_PREVENTION)
            | flag(self.status_report_indication, BIT_STATUS_REPORT)
            | flag(self.user_data.header.is_some(), BIT_UDHI)
            | flag(self.reply_path, BIT_REPLY_PATH);
        let mut out = vec![first];
        self.originator.encode_tp(&mut out)?;
        out.push(self.protocol_identifier);
        out.push(self.data_coding.octet());
        self.timestamp.encode(&mut out);
        self.user_data.encode(&mut out)?;
        Ok(out)
    }

    /// Decodes a TPDU (no SMSC field).
    pub fn decode_tpdu(tpdu: &[u8]) -> Result<Self, PduError> {
        let mut reader = ByteReader::new(tpdu);
        let first = reader.byte("first octet")?;
        // TS 23.040 §9.2.3.1: a reserved TP-MTI (11) is processed as an SMS-DELIVER.
        if first & 0b11 != MTI_RESERVED {
            expect_type(first, MTI_DELIVER)?;
        }
        let originator = Address::decode_tp(&mut reader)?;
        let protocol_identifier = reader.byte("protocol identifier")?;
        let data_coding = DataCoding::from_octet(reader.byte("data coding")?);
        let timestamp = SmscTimestamp::decode(&mut reader)?;
        let length = reader.byte("user data length")?;
        let user_data = UserData::decode(
            length,
            data_coding.alphabet(),
            first & BIT_UDHI != 0,
            reader.rest(),
        )?;
        Ok(SmsDeliver {
            more_messages_waiting: first & BIT_MMS_OR_RD == 0,
            loop_prevention: first & BIT_LOOP_PREVENTION != 0,
            reply_path: first & BIT_REPLY_PATH != 0,
            status_report_indication: first & BIT_STATUS_REPORT != 0,
            originator,
            protocol_identifier,
            data_coding,
            timestamp,
            user_data,
        })
    }
}

const PI_PROTOCOL_IDENTIFIER: u8 = 0x01;
const PI_DATA_CODING: u8 = 0x02;
const PI_USER_DATA_LENGTH: u8 = 0x04;
const PI_EXTENSION: u8 = 0x80;
/// Parameter-indicator octets a status report may chain (bit 7 extends); more is malformed.
const PARAMETER_INDICATOR_OCTETS_MAX: usize = 4;

impl SmsStatusReport {
    /// Encodes the TPDU (no SMSC field).
    pub fn encode_tpdu(&self) -> Result<Vec<u8>, PduError> {
        let data_coding = self.data_coding.unwrap_or(DataCoding::GSM7);
        if let Some(user_data) = &self.user_data {
            check_alphabet(data_coding, user_data)?;
        }
        let has_header = self
            .user_data
            .as_ref()
            .is_some_and(|user_data| user_data.header.is_some());
        let first = MTI_STATUS_REPORT
            | flag(!self.more_messages_waiting, BIT_MMS_OR_RD)
            | flag(self.loop_prevention, BIT_LOOP_PREVENTION)
            | flag(self.reports_on_command, BIT_STATUS_REPORT)
            | flag(has_header, BIT_UDHI);
        let mut out = vec![first, self.message_reference];
        self.recipient.encode_tp(&mut out)?;
        self.timestamp.encode(&mut out);
        self.discharge_time.encode(&mut out);
        out.push(self.status.0);
        let indicator = flag(self.protocol_identifier.is_some(), PI_PROTOCOL_IDENTIFIER)
            | flag(self.data_coding.is_some(), PI_DATA_CODING)
            | flag(self.user_data.is_some(), PI_USER_DATA_LENGTH);
        if indicator != 0 {
            out.push(indicator);
            if let Some(protocol_identifier) = self.protocol_identifier {
                out.push(protocol_identifier);
            }
            if let Some(data_coding) = self.data_coding {
                out.push(data_coding.octet());
            }
            if let Some(user_data) = &self.user_data {
                user_data.encode(&mut out)?;
            }
        }
        Ok(out)
    }

    /// Decodes a TPDU (no SMSC field).
    pub fn decode_tpdu(tpdu: &[u8]) -> Result<Self, PduError> {
        let mut reader = ByteReader::new(tpdu);
        let first = reader.byte("first octet")?;
        expect_type(first, MTI_STATUS_REPORT)?;
        let message_reference = reader.byte("message reference")?;
        let recipient = Address::decode_tp(&mut reader)?;
        let timestamp = SmscTimestamp::decode(&mut reader)?;
        let discharge_time = SmscTimestamp::decode(&mut reader)?;
        let status = DeliveryStatus(reader.byte("status")?);
        let mut report = SmsStatusReport {
            more_messages_waiting: first & BIT_MMS_OR_RD == 0,
            loop_prevention: first & BIT_LOOP_PREVENTION != 0,
            reports_on_command: first & BIT_STATUS_REPORT != 0,
            message_reference,
            recipient,
            timestamp,
            discharge_time,
            status,
            protocol_identifier: None,
            data_coding: None,
            user_data: None,
        };
        if reader.remaining() == 0 {
            return Ok(report);
        }
        let indicator = reader.byte("parameter indicator")?;
        let mut extension = indicator;
        let mut indicator_octets = 1;
        while extension & PI_EXTENSION != 0 {
            indicator_octets += 1;
            if indicator_octets > PARAMETER_INDICATOR_OCTETS_MAX {
                return Err(PduError::MalformedParameterIndicator);
            }
            extension = reader.byte("parameter indicator")?;
        }
        if indicator & PI_PROTOCOL_IDENTIFIER != 0 {
            report.protocol_identifier = Some(reader.byte("protocol identifier")?);
        }
        if indicator & PI_DATA_CODING != 0 {
            report.data_coding = Some(DataCoding::from_octet(reader.byte("data coding")?));
        }
        if indicator & PI_USER_DATA_LENGTH != 0 {
            let length = reader.byte("user data length")?;
            let alphabet = report.data_coding.unwrap_or(DataCoding::GSM7).alphabet();
            report.user_data = Some(UserData::decode(
                length,
                alphabet,
                first & BIT_UDHI != 0,
                reader.rest(),
            )?);
        }
        Ok(report)
    }
}

/// What a modem hands the host: an SMS-DELIVER or an SMS-STATUS-REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingTpdu {
    /// A message from a phone.
    Deliver(SmsDeliver),
    /// A delivery report for a message we sent.
    StatusReport(SmsStatusReport),
}

/// A PDU as `+CMT`, `+CDS`, `+CMGR` and `+CMGL` print it: SMSC field, then the TPDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingPdu {
    /// The SMSC that handled it; `None` when the field was empty.
    pub smsc: Option<Address>,
    /// The TPDU.
    pub tpdu: IncomingTpdu,
}

impl IncomingPdu {
    /// Decodes the octets of a PDU line (SMSC field first).
    pub fn decode(bytes: &[u8]) -> Result<Self, PduError> {
        let mut reader = ByteReader::new(bytes);
        let smsc = Address::decode_smsc(&mut reader)?;
        let tpdu = reader.rest();
        let first = *tpdu.first().ok_or(PduError::Truncated {
            field: "first octet",
        })?;
        let tpdu = match first & 0b11 {
            MTI_DELIVER | MTI_RESERVED => IncomingTpdu::Deliver(SmsDeliver::decode_tpdu(tpdu)?),
            MTI_STATUS_REPORT => IncomingTpdu::StatusReport(SmsStatusReport::decode_tpdu(tpdu)?),
            other => return Err(PduError::UnexpectedMessageType { type_bits: other }),
        };
        Ok(IncomingPdu { smsc, tpdu })
    }

    /// Encodes with its SMSC field, as a modem (or the simulator) prints it.
    pub fn encode(&self) -> Result<EncodedPdu, PduError> {
        let tpdu = match &self.tpdu {
            IncomingTpdu::Deliver(deliver) => deliver.encode_tpdu()?,
            IncomingTpdu::StatusReport(report) => report.encode_tpdu()?,
        };
        let smsc = match &self.smsc {
            Some(address) => SmscField::Address(address.clone()),
            None => SmscField::Default,
        };
        prefix_smsc(&smsc, tpdu)
    }
}

/// A PDU as the host hands it to `AT+CMGS` (or a SIM lists a stored outgoing message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingPdu {
    /// The SMSC field.
    pub smsc: SmscField,
    /// The TPDU.
    pub submit: SmsSubmit,
}

impl OutgoingPdu {
    /// Decodes octets that start with an SMSC field.
    pub fn decode(bytes: &[u8]) -> Result<Self, PduError> {
        let mut reader = ByteReader::new(bytes);
        let smsc = match Address::decode_smsc(&mut reader)? {
            Some(address) => SmscField::Address(address),
            None => SmscField::Default,
        };
        let submit = SmsSubmit::decode_tpdu(reader.rest())?;
        Ok(OutgoingPdu { smsc, submit })
    }

    /// Decodes a bare TPDU, for modems that take one without the SMSC field.
    pub fn decode_without_smsc(bytes: &[u8]) -> Result<Self, PduError> {
        Ok(OutgoingPdu {
            smsc: SmscField::Omitted,
            submit: SmsSubmit::decode_tpdu(bytes)?,
        })
    }

    /// Encodes for `AT+CMGS`.
    pub fn encode(&self) -> Result<EncodedPdu, PduError> {
        self.submit.to_modem_pdu(&self.smsc)
    }
}

fn prefix_smsc(smsc: &SmscField, tpdu: Vec<u8>) -> Result<EncodedPdu, PduError> {
    let tpdu_length = tpdu.len();
    let bytes = match smsc {
        SmscField::Omitted => tpdu,
        SmscField::Default => {
            let mut bytes = Vec::with_capacity(1 + tpdu.len());
            bytes.push(0);
            bytes.extend_from_slice(&tpdu);
            bytes
        }
        SmscField::Address(address) => {
            let mut bytes = Vec::with_capacity(12 + tpdu.len());
            address.encode_smsc(&mut bytes)?;
            bytes.extend_from_slice(&tpdu);
            bytes
        }
    };
    Ok(EncodedPdu { bytes, tpdu_length })
}

fn expect_type(first: u8, expected: u8) -> Result<(), PduError> {
    let type_bits = first & 0b11;
    if type_bits == expected {
        Ok(())
    } else {
        Err(PduError::UnexpectedMessageType { type_bits })
    }
}

fn check_alphabet(data_coding: DataCoding, user_data: &UserData) -> Result<(), PduError> {
    if data_coding.alphabet() == user_data.body.alphabet() {
        Ok(())
    } else {
        Err(PduError::AlphabetMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::split::{SubmitOptions, encode_text_submits};
    use crate::pdu::udh::ConcatReference;
    use crate::pdu::user_data::UserDataBody;

    fn hex_of(bytes: &[u8]) -> String {
        hex::encode_upper(bytes)
    }

    #[test]
    fn hellohello_submit_with_default_omitted_and_report_request() {
        let destination = Address::international("46708251358").unwrap_or_else(|e| panic!("{e}"));
        let mut options = SubmitOptions {
            smsc: SmscField::Default,
            validity_period: Some(ValidityPeriod::Relative(0xAA)),
            status_report_request: false,
            reject_duplicates: false,
            class: None,
        };
        let encode = |options: &SubmitOptions| {
            encode_text_submits(
                &destination,
                "hellohello",
                ConcatReference::Eight(0),
                options,
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let parts = encode(&options);
        assert_eq!(parts.len(), 1);
        assert_eq!(
            parts[0].to_hex(),
            "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
        );
        assert_eq!(parts[0].tpdu_length(), 23);
        options.smsc = SmscField::Omitted;
        assert_eq!(
            encode(&options)[0].to_hex(),
            "11000B916407281553F80000AA0AE8329BFD4697D9EC37"
        );
        options.status_report_request = true;
        options.reject_duplicates = true;
        assert_eq!(
            encode(&options)[0].to_hex(),
            "35000B916407281553F80000AA0AE8329BFD4697D9EC37"
        );
    }

    #[test]
    fn status_reports_decode_and_round_trip_with_optional_fields() {
        let delivered = crate::hex::decode(
            b"0791198904100100062A0C91198967452301423051410350224230514113602200",
        )
        .unwrap_or_default();
        let Ok(IncomingPdu {
            tpdu: IncomingTpdu::StatusReport(mut report),
            smsc,
        }) = IncomingPdu::decode(&delivered)
        else {
            panic!("not a status report");
        };
        assert_eq!(report.message_reference, 42);
        assert_eq!(report.status.outcome(), DeliveryOutcome::Delivered);
        assert_eq!(report.recipient.to_display_string(), "+919876543210");
        assert_eq!(report.discharge_time.minute(), 31);
        assert!(!report.more_messages_waiting);
        assert_eq!(DeliveryStatus(0x41).outcome(), DeliveryOutcome::Failed);
        assert_eq!(DeliveryStatus(0x21).outcome(), DeliveryOutcome::StillTrying);
        assert_eq!(DeliveryStatus(0x62).outcome(), DeliveryOutcome::Failed);

        report.protocol_identifier = Some(0);
        report.data_coding = Some(DataCoding::UCS2);
        report.user_data = Some(UserData::from_body(UserDataBody::Ucs2(vec![0x0915])));
        let pdu = IncomingPdu {
            smsc,
            tpdu: IncomingTpdu::StatusReport(report),
        };
        let encoded = pdu.encode().unwrap_or_else(|e| panic!("{e}"));
        assert!(hex_of(encoded.bytes()).ends_with("00070008020915"));
        assert_eq!(IncomingPdu::decode(encoded.bytes()), Ok(pdu));
    }

    #[test]
    fn status_report_padding_is_ignored_and_wrong_types_rejected() {
        let padded = crate::hex::decode(
            b"0791198904100100062A0C9119896745230142305141035022423051411360220000000000",
        )
        .unwrap_or_default();
        assert!(IncomingPdu::decode(&padded).is_ok());
        let submit = crate::hex::decode(b"0011000B916407281553F80000AA0AE8329BFD4697D9EC37")
            .unwrap_or_default();
        assert_eq!(
            IncomingPdu::decode(&submit),
            Err(PduError::UnexpectedMessageType { type_bits: 1 })
        );
        let mut trailing = submit.clone();
        trailing.push(0);
        assert_eq!(
            OutgoingPdu::decode(&trailing),
            Err(PduError::TrailingOctets { count: 1 })
        );
    }

    #[test]
    fn no_stray_at_sign_when_seven_bits_are_spare() {
        // 7, 15, 23... septets leave 7 spare bits in the last octet, which a decoder that
        // ignores TP-UDL reads as '@' (the sms-pdu 1.1 bug). After a concatenation header
        // (7 septets with its fill bit) a last part of 8 or 16 septets does the same.
        let destination = Address::international("919876543210").unwrap_or_else(|e| panic!("{e}"));
        for length in [7usize, 15, 23, 159, 153 + 8, 153 + 16, 2 * 153 + 8] {
            let text = "a".repeat(length);
            let parts = encode_text_submits(
                &destination,
                &text,
                ConcatReference::Eight(9),
                &SubmitOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let decoded: String = parts
                .iter()
                .map(|pdu| {
                    OutgoingPdu::decode(pdu.bytes())
                        .unwrap_or_else(|e| panic!("{e}"))
                        .submit
                        .user_data
                        .to_text_lossy()
                })
                .collect();
            assert_eq!(decoded, text, "{length}");
        }
    }
}
