# एक बार के कोड (OTP), SMS से। देखें en/otp.ftl।

otp-code = FarmCo कोड { $code } { $purpose ->
        [registration] यह नंबर दर्ज करने
        [consent] आपकी सहमति पक्की करने
        [erasure] आपका डेटा मिटाने
        [export] आपके डेटा की प्रति भेजने
       *[sms_registration] आपका पंजीकरण पक्का करने
    } के लिए। 10 मिनट मान्य। केवल साथ आए FarmCo एजेंट को बताएं, फ़ोन पर किसी को नहीं।
