# One-time codes sent by SMS (edge/village/src/otp.rs). One SMS part each: GSM-7 in English
# (160 characters), UCS-2 in Hindi and Marathi (70 characters per part, so they take two).
# The text says what the code is for and warns not to share it.

otp-code = FarmCo code { $code } to { $purpose ->
        [registration] register this number
        [consent] confirm your consent choices
        [erasure] erase your data
        [export] send you a copy of your data
       *[sms_registration] confirm your registration
    }. Valid 10 min. Give it only to the FarmCo agent with you. Never share it on a call.
