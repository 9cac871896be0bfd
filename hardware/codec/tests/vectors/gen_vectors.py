#!/usr/bin/python3
"""Generates tests/vectors/sms_vectors.json: SMS PDUs made by reference encoders and accepted
only where at least two independent decoders agree on them.

Why: a PDU codec is only as good as its test vectors, and known decoders have known bugs
(libGammu garbles 7-bit text after an extension character; the Rust `sms-pdu` crate adds a
stray '@' to the last part of a multipart 7-bit message). So each vector is decoded by three
independent implementations and kept only where at least two agree with the text that went
in; the file records which ones agreed. The Rust tests (tests/it/vectors.rs) then decode
every vector with this crate and, where the split is the one this crate makes, re-encode it.

Encoders: libGammu through python-gammu (SMS-SUBMIT and SMS-DELIVER), plus hand-made
vectors: the classic "hellohello" PDUs and SMS-STATUS-REPORTs (gammu cannot encode those).
Decoders:
  gammu          libGammu's DecodePDU            (Debian: apt-get install python3-gammu gammu)
  smspdudecoder  Qotto's smspdudecoder 2.2       (PyPI: pip install smspdudecoder)
  gsmmodem       python-gsmmodem-new's pdu module (PyPI: pip install python-gsmmodem-new)

python3-gammu installs for Debian's /usr/bin/python3; the PyPI packages may live in another
interpreter. So this script runs under /usr/bin/python3 and calls itself with --xcheck under
$XCHECK_PYTHON (default: the first `python3` on PATH) for the two PyPI decoders.

Usage: /usr/bin/python3 tests/vectors/gen_vectors.py > tests/vectors/sms_vectors.json
"""

import binascii
import datetime
import json
import os
import subprocess
import sys

SMSC = "+919840011000"
FARMER = "+919876543210"
NODE = "+919812345678"

# Timestamps are compared with two-digit years: TP-SCTS carries only those, and the decoders
# disagree on the century (libGammu reads 99 as 2089, python-gsmmodem as 1999).
TWO_DIGIT_YEAR_LOCAL = "%y-%m-%d %H:%M:%S"
TWO_DIGIT_YEAR_UTC = "%y-%m-%dT%H:%M:%SZ"

# Every character of the GSM 7-bit default alphabet and its extension table: the split rule
# below counts extension characters as two septets.
GSM7_DEFAULT = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
).replace("\x1b", "")
GSM7_EXTENSION = "\f^{}\\[~]|€"


def expected_split(text, ref16):
    """The split rule of this crate (src/pdu/split.rs), written again independently: 7-bit
    when every character is in the alphabet, else UTF-16; 160 septets / 70 units in one part,
    else 153/67 (8-bit reference) or 152/66 (16-bit), never splitting a character."""
    if all(c in GSM7_DEFAULT or c in GSM7_EXTENSION for c in text):
        cost = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, per_part = 160, (152 if ref16 else 153)
    else:
        cost = [len(c.encode("utf-16-be")) // 2 for c in text]
        single, per_part = 70, (66 if ref16 else 67)
    if sum(cost) <= single:
        return [text]
    parts, current, used = [], "", 0
    for character, size in zip(text, cost):
        if used + size > per_part:
            parts.append(current)
            current, used = "", 0
        current += character
        used += size
    parts.append(current)
    return parts


def gammu_parts(text, unicode, ref16=False):
    import gammu

    entry = "ConcatenatedTextLong16bit" if ref16 else "ConcatenatedTextLong"
    return gammu.EncodeSMS(
        {"Class": -1, "Unicode": unicode, "Entries": [{"ID": entry, "Buffer": text}]}
    )


def gammu_submit(text, unicode, ref16=False, validity="1D"):
    import gammu

    pdus = []
    for part in gammu_parts(text, unicode, ref16):
        part["Number"] = FARMER
        part["SMSC"] = {"Location": 0, "Number": SMSC, "Validity": validity}
        pdus.append(gammu.EncodePDU(part, Layout="Submit").hex().upper())
    return pdus


def gammu_deliver(text, unicode, sender, when, zone_quarters, ref16=False):
    """SMS-DELIVER PDUs; gammu writes the zone octet as 00, so it is patched to the given
    offset (the decoders then have to agree on it)."""
    import gammu

    pdus = []
    for part in gammu_parts(text, unicode, ref16):
        part["Number"] = sender
        part["Type"] = "Deliver"
        part["SMSC"] = {"Location": 0, "Number": SMSC, "Validity": "NA"}
        part["DateTime"] = when
        raw = bytearray(gammu.EncodePDU(part, Layout="Deliver"))
        scts = scts_offset(raw)
        raw[scts + 6] = zone_octet(zone_quarters)
        pdus.append(bytes(raw).hex().upper())
    return pdus


def scts_offset(raw):
    """Index of TP-SCTS in an SMS-DELIVER (with its SMSC field)."""
    position = 1 + raw[0]  # SMSC field
    position += 1  # first octet
    address_digits = raw[position]
    position += 2 + (address_digits + 1) // 2  # TP-OA
    return position + 2  # TP-PID, TP-DCS


def zone_octet(quarters):
    magnitude = abs(quarters)
    octet = ((magnitude % 10) << 4) | (magnitude // 10)
    return octet | 0x08 if quarters < 0 else octet


# --- decoders ---------------------------------------------------------------------------


def decode_gammu(pdu_hex):
    import gammu

    try:
        decoded = gammu.DecodePDU(binascii.unhexlify(pdu_hex), SMSC=True)
    except Exception as error:  # noqa: BLE001 - any failure means "no opinion"
        return {"error": str(error)}
    result = {"text": decoded.get("Text"), "number": decoded.get("Number")}
    udh = decoded.get("UDH") or {}
    if udh.get("AllParts", 0) > 1 or udh.get("PartNumber", -1) > 0:
        reference = udh.get("ID16bit", -1)
        if reference == -1:
            reference = udh.get("ID8bit", -1)
        result["concat"] = [reference, udh.get("AllParts"), udh.get("PartNumber")]
    if decoded.get("Type") == "Status_Report":
        result["text"] = None
        result["reference"] = decoded.get("MessageReference")
        result["status"] = decoded.get("DeliveryStatus")
    if decoded.get("Type") in ("Deliver", "Status_Report") and decoded.get("DateTime"):
        result["scts_local"] = decoded["DateTime"].strftime(TWO_DIGIT_YEAR_LOCAL)
    return result


def xcheck_worker():
    """Runs under the interpreter that has the PyPI decoders; reads [[kind, hex], ...]."""
    from io import StringIO

    import gsmmodem.pdu
    from smspdudecoder.fields import SMSDeliver, SMSSubmit

    def fix_surrogates(text):
        return text.encode("utf-16", "surrogatepass").decode("utf-16")

    def smspdudecoder(kind, pdu_hex):
        if kind == "status_report":
            return {"error": "no status report support"}
        try:
            fields = (SMSSubmit if kind == "submit" else SMSDeliver).decode(StringIO(pdu_hex))
        except Exception as error:  # noqa: BLE001
            return {"error": repr(error)}
        party = fields.get("recipient" if kind == "submit" else "sender")
        number = party["number"]
        if party["toa"]["ton"] == "international":
            number = "+" + number
        result = {"text": fields["user_data"]["data"], "number": number}
        header = fields["user_data"].get("header") or {}
        for element in header.get("elements", []):
            if element["iei"] in (0x00, 0x08):
                data = element["data"]
                result["concat"] = [data["reference"], data["parts_count"], data["part_number"]]
        if kind == "deliver":
            # smspdudecoder converts the SCTS to UTC, dropping the local time.
            scts = fields["scts"]
            utc = scts - scts.utcoffset()
            result["scts_utc"] = utc.strftime(TWO_DIGIT_YEAR_UTC)
        return result

    def gsmmodem_decoder(kind, pdu_hex):
        try:
            fields = gsmmodem.pdu.decodeSmsPdu(pdu_hex)
        except Exception as error:  # noqa: BLE001
            return {"error": repr(error)}
        result = {"text": fields.get("text"), "number": fields.get("number")}
        if result["text"] is not None:
            result["text"] = fix_surrogates(result["text"])
        for element in fields.get("udh", []):
            if hasattr(element, "reference"):
                result["concat"] = [element.reference, element.parts, element.number]
        if kind == "status_report":
            result["text"] = None
            result["reference"] = fields.get("reference")
            result["status"] = fields.get("status")
        if kind in ("deliver", "status_report") and fields.get("time"):
            result["scts_local"] = fields["time"].strftime(TWO_DIGIT_YEAR_LOCAL)
            result["zone_minutes"] = int(fields["time"].utcoffset().total_seconds() // 60)
        return result

    from importlib.metadata import version

    requests = json.load(sys.stdin)
    json.dump(
        {
            "versions": {
                "smspdudecoder": version("smspdudecoder"),
                "gsmmodem": "python-gsmmodem-new " + version("python-gsmmodem-new"),
            },
            "results": [
                {"smspdudecoder": smspdudecoder(kind, pdu), "gsmmodem": gsmmodem_decoder(kind, pdu)}
                for kind, pdu in requests
            ],
        },
        sys.stdout,
    )


def decode_all(requests):
    python = os.environ.get("XCHECK_PYTHON", "python3")
    completed = subprocess.run(
        [python, os.path.abspath(__file__), "--xcheck"],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        sys.exit(f"cross-check decoders failed under {python}:\n{completed.stderr}")
    answer = json.loads(completed.stdout)
    results = [
        dict(other, gammu=decode_gammu(pdu))
        for (kind, pdu), other in zip(requests, answer["results"])
    ]
    return answer["versions"], results


# --- the vectors ------------------------------------------------------------------------

HINDI_PRICE = "गेहूं का भाव ₹2,275 प्रति क्विंटल"
HINDI_LONG = (
    "मंडी भाव: गेहूं ₹2,275 प्रति क्विंटल, चना ₹5,440, सरसों ₹5,650। "
    "कल बारिश की संभावना है, कटाई रोक दें और अनाज को ढक कर रखें। "
    "अधिक जानकारी के लिए 1 भेजें, मौसम के लिए 2 भेजें।"
)
ENGLISH_LONG = (
    "Mandi rates today: wheat Rs 2275/qtl, gram Rs 5440/qtl, mustard Rs 5650/qtl. "
    "Rain expected tomorrow {70% chance} - delay harvest, cover grain [tarpaulin]. "
    "Reply 1 for prices | 2 for weather ~ 3 for help. Cost: 0 EUR / 0 €."
)
ENGLISH_PLAIN = (
    "Mandi rates today: wheat Rs 2275 per quintal, gram Rs 5440, mustard Rs 5650. "
    "Rain expected tomorrow, 70 percent chance: delay the harvest and cover the grain. "
    "Reply 1 for prices, 2 for weather, 3 for help."
)
WHEN = datetime.datetime(2024, 3, 15, 14, 30, 5)


def messages():
    """(name, kind, text, pdus, notes): kind is submit, deliver or status_report."""
    yield ("submit_english", "submit", "Wheat price today? Reply with your village code.",
           gammu_submit("Wheat price today? Reply with your village code.", False), "")
    yield ("submit_extension_chars", "submit", "{price} €5 [x]",
           gammu_submit("{price} €5 [x]", False), "")
    # Form feed (ESC 0x0A) is left out: only smspdudecoder decodes it (gsmmodem drops it,
    # gammu garbles what follows); the crate's unit tests cover it.
    every_extension = "a^b{c}d\\e[f~g]h|i€j, all of the extension table"
    yield ("submit_all_extension_chars", "submit", every_extension,
           gammu_submit(every_extension, False), "")
    yield ("submit_hindi", "submit", HINDI_PRICE, gammu_submit(HINDI_PRICE, True), "")
    emoji = "Rain tomorrow 🌧️ protect the crop 🌾👍"
    yield ("submit_emoji_surrogates", "submit", emoji, gammu_submit(emoji, True), "")
    yield ("submit_hindi_3_parts", "submit", HINDI_LONG, gammu_submit(HINDI_LONG, True), "")
    yield ("submit_gsm7_2_parts", "submit", ENGLISH_LONG, gammu_submit(ENGLISH_LONG, False), "")
    yield ("submit_gsm7_2_parts_16bit_reference", "submit", ENGLISH_PLAIN,
           gammu_submit(ENGLISH_PLAIN, False, ref16=True), "")
    yield ("submit_hindi_3_parts_16bit_reference", "submit", HINDI_LONG,
           gammu_submit(HINDI_LONG, True, ref16=True), "")
    # The classic example (e.g. dreamfabric's PDU tutorial): default SMSC (00), VP 4 days.
    yield ("submit_hellohello_classic", "submit", "hellohello",
           ["0011000B916407281553F80000AA0AE8329BFD4697D9EC37"], "hand-made, classic")

    yield ("deliver_english_ist", "deliver", "Wheat 2275? Send rate pls",
           gammu_deliver("Wheat 2275? Send rate pls", False, FARMER, WHEN, 22), "")
    yield ("deliver_hindi_ist", "deliver", HINDI_PRICE,
           gammu_deliver(HINDI_PRICE, True, FARMER, WHEN, 22), "")
    yield ("deliver_emoji_negative_zone", "deliver", "🌾 ok 👍",
           gammu_deliver("🌾 ok 👍", True, FARMER, WHEN, -20), "")
    yield ("deliver_gsm7_2_parts", "deliver", ENGLISH_LONG,
           gammu_deliver(ENGLISH_LONG, False, FARMER, WHEN, 22), "")
    yield ("deliver_hindi_3_parts", "deliver", HINDI_LONG,
           gammu_deliver(HINDI_LONG, True, FARMER, WHEN, 22), "")
    yield ("deliver_alphanumeric_sender", "deliver", "Rs 500 credited to a/c XX1234",
           gammu_deliver("Rs 500 credited to a/c XX1234", False, "AX-SBIBNK", WHEN, 22), "")
    # The classic SMS-DELIVER: SMSC +27381000015, sender 27838890001 (type C8), 1999-03-29
    # 15:16:59 +02:00, "hellohello".
    yield ("deliver_hellohello_classic", "deliver", "hellohello",
           ["07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"],
           "hand-made, classic")

    # SMS-STATUS-REPORTs, hand-made: SMSC, first octet 06 (report, no more messages),
    # TP-MR 42, recipient +919876543210, SCTS and discharge time in IST, TP-ST.
    report = "0791198904100100" "06" "2A" "0C91198967452301" "42305141035022" "42305141136022"
    yield ("status_report_delivered", "status_report", None, [report + "00"], "hand-made")
    yield ("status_report_failed", "status_report", None, [report + "41"], "hand-made")


def utc_instant(opinion):
    """The SCTS as a UTC instant, from a decoder that reports it or the zone."""
    if "scts_utc" in opinion:
        return opinion["scts_utc"]
    if "scts_local" not in opinion or "zone_minutes" not in opinion:
        return None
    local = datetime.datetime.strptime(opinion["scts_local"], TWO_DIGIT_YEAR_LOCAL)
    return (local - datetime.timedelta(minutes=opinion["zone_minutes"])).strftime(TWO_DIGIT_YEAR_UTC)


def agreed(opinions, decoders, field):
    """The value of `field` when at least two of `decoders` report it and all that report it
    agree; the decoders that did."""
    values = {d: field(opinions[d]) for d in decoders}
    values = {d: v for d, v in values.items() if v is not None}
    distinct = set(json.dumps(v) for v in values.values())
    if len(values) >= 2 and len(distinct) == 1:
        return next(iter(values.values())), sorted(values)
    return None, []


DECODERS = ("gammu", "smspdudecoder", "gsmmodem")


def judge(name, kind, text, pdus, notes, all_opinions):
    """Keeps a vector when every part has at least two decoders agreeing with the text that
    went in (or, for status reports, with each other); prints why otherwise."""
    ref16 = "16bit" in name
    split = expected_split(text, ref16) if text is not None else [None] * len(pdus)
    split_matches = text is not None and len(split) == len(pdus)
    parts = []
    for index, (pdu, opinions) in enumerate(zip(pdus, all_opinions)):
        usable = [d for d in DECODERS if "error" not in opinions[d]]
        part = {"pdu": pdu}
        if kind == "status_report":
            fields, agree = agreed(
                opinions, usable, lambda o: [o.get("reference"), o.get("status")]
            )
            if not agree:
                return reject(name, index, opinions)
            reference, status = fields
            part.update(reference=reference, status=status, decoders_agreeing=agree)
        else:
            # Which text the part should hold: this crate's split when the part count says
            # the reference encoder split the same way; else the decoders' common answer,
            # provided the parts join to the text.
            if split_matches:
                expected_part = split[index]
            else:
                expected_part, _ = agreed(opinions, usable, lambda o: o.get("text"))
            agree = [d for d in usable if expected_part is not None and opinions[d].get("text") == expected_part]
            if len(agree) < 2:
                return reject(name, index, opinions)
            part.update(text=expected_part, decoders_agreeing=agree)
            disagree = {d: opinions[d].get("text", opinions[d].get("error")) for d in DECODERS if d not in agree}
            if disagree:
                part["decoders_disagreeing"] = disagree
        number, who = agreed(opinions, usable, lambda o: o.get("number"))
        if number is not None:
            part["number"] = number
            part["number_agreed_by"] = who
        concat, who = agreed(opinions, usable, lambda o: o.get("concat"))
        if concat is not None:
            part["concat"] = concat
            part["concat_agreed_by"] = who
        local, who = agreed(opinions, usable, lambda o: o.get("scts_local"))
        if local is not None:
            part["scts_local"] = local
            part["scts_local_agreed_by"] = who
        instant, who = agreed(opinions, usable, utc_instant)
        if instant is not None:
            part["scts_utc"] = instant
            part["scts_utc_agreed_by"] = who
        parts.append(part)
    if text is not None and "".join(p["text"] for p in parts) != text:
        sys.stderr.write(f"REJECTED {name}: parts do not join to the text\n")
        return None
    return {
        "name": name,
        "kind": kind,
        "text": text,
        # True when the parts are split where this crate splits, so re-encoding the text
        # must reproduce the PDUs octet for octet.
        "split_matches_crate": split_matches,
        "notes": notes,
        "parts": parts,
    }


def reject(name, index, opinions):
    sys.stderr.write(f"REJECTED {name} part {index + 1}: {json.dumps(opinions, ensure_ascii=False)}\n")
    return None


def main():
    if sys.argv[1:] == ["--xcheck"]:
        return xcheck_worker()
    import gammu

    collected = list(messages())
    requests = [(kind, pdu) for (_, kind, _, pdus, _) in collected for pdu in pdus]
    versions, decoded = decode_all(requests)
    decoded = iter(decoded)
    runtime, python_gammu, _ = gammu.Version()
    versions["gammu"] = f"libGammu {runtime}, python-gammu {python_gammu}"
    vectors = []
    for name, kind, text, pdus, notes in collected:
        all_opinions = [next(decoded) for _ in pdus]
        vector = judge(name, kind, text, pdus, notes, all_opinions)
        if vector is not None:
            vectors.append(vector)
    json.dump(
        {
            "generator": "tests/vectors/gen_vectors.py",
            "decoder_versions": versions,
            "vectors": vectors,
        },
        sys.stdout,
        ensure_ascii=False,
        indent=1,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
