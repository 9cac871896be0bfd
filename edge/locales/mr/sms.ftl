# FarmCo-Pilot SMS replies, Marathi. Every reply must fit one SMS part: 70 UCS-2 characters.
# Arguments arrive formatted (dates as DD.MM.YY, whole numbers); statuses are low|medium|high.
# Marathi ends sentences with a full stop, not the danda. Keywords shown here (भाव, हवामान,
# माती, ओलावा, नोंदणी, मदत, बंद/सुरू) are the ones the parser knows (sms/command.rs).

help = भाव <पीक>, हवामान, माती, ओलावा, नोंदणी <नाव>, LANG EN, बंद/सुरू सूचना
not-registered = नंबर नोंदलेला नाही. नोंदणी <तुमचे नाव> पाठवा. भाव, हवामान सर्वांसाठी
price = { $crop } { $date }: ₹{ $min }-{ $max }, सरासरी ₹{ $modal }/क्विंटल, { $market }
price-none = { $crop }: भाव अजून उपलब्ध नाही. नंतर पुन्हा विचारा.
price-missing-crop = पिकाचे नावही पाठवा, उदा. भाव कांदा
price-unknown-crop = पीक "{ $word }" ओळखले नाही. उदा. भाव गहू, भाव कांदा, भाव हरभरा

weather = हवामान { $date }: { $text }
weather-none = हवामानाची सूचना अजून उपलब्ध नाही. नंतर पुन्हा विचारा.

soil = माती { $date }: N { $n ->
        [low] कमी
        [medium] मध्यम
       *[high] जास्त
    } P { $p ->
        [low] कमी
        [medium] मध्यम
       *[high] जास्त
    } K { $k ->
        [low] कमी
        [medium] मध्यम
       *[high] जास्त
    }. { $crop }: N{ $dn } P{ $dp } K{ $dk } kg/ha
soil-no-crop = माती { $date }: N { $n ->
        [low] कमी
        [medium] मध्यम
       *[high] जास्त
    } P { $p ->
        [low] कमी
        [medium] मध्यम
       *[high] जास्त
    } K { $k ->
        [low] कमी
        [medium] मध्यम
       *[high] जास्त
    } pH { $ph }. खतासाठी पीक सांगा
soil-none = तुमची माती तपासणी नोंदलेली नाही. एजंटकडे मृदा आरोग्य पत्रिका मागा.

moisture = मातीतील ओलावा { $value }% ({ $time }, सेन्सर { $sensor })
moisture-no-sensor = तुमच्या शेतात अजून ओलावा सेन्सर नाही.
moisture-no-reading = तुमच्या शेतातील सेन्सरने अजून ओलावा कळवला नाही.

reg-pending = धन्यवाद { $name }! नोंदणी अर्ज मिळाला, एजंट पुष्टी करतील.
reg-already = हा नंबर { $name } यांच्या नावे नोंदलेला आहे.
reg-missing-name = नोंदणी आणि तुमचे नाव पाठवा, उदा. नोंदणी सुनीता पवार
reg-name-too-long = नाव खूप मोठे आहे. नोंदणी आणि छोटे नाव पाठवा.
reg-confirmed = स्वागत { $name }! नोंदणी पूर्ण. मेनूसाठी मदत पाठवा.

lang-set = आता उत्तरे मराठीत येतील.
lang-missing = LANG आणि भाषा पाठवा: LANG MR, LANG HI किंवा LANG EN
lang-unknown = भाषा "{ $word }" ओळखली नाही. LANG MR, HI किंवा EN पाठवा.

stop = सूचना बंद. पुन्हा हव्या असल्यास सुरू पाठवा.
start = सूचना सुरू. थांबवण्यासाठी बंद पाठवा.
