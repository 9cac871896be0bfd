# FarmCo-Pilot SMS replies, Hindi. Every reply must fit one SMS part: 70 UCS-2 characters.
# Arguments arrive formatted (dates as DD.MM.YY, whole numbers); statuses are low|medium|high.

help = भाव <फसल>, मौसम, मिट्टी, नमी, REG <नाम>, LANG EN, बंद/शुरू अलर्ट
not-registered = नंबर पंजीकृत नहीं। REG <अपना नाम> भेजें। भाव, मौसम सभी के लिए
price = { $crop } { $date }: ₹{ $min }-{ $max }, औसत ₹{ $modal }/क्विंटल, { $market }
price-none = { $crop } का भाव अभी उपलब्ध नहीं। बाद में फिर पूछें।
price-missing-crop = फसल का नाम भी भेजें, जैसे: भाव गेहूं
price-unknown-crop = फसल "{ $word }" पहचानी नहीं। जैसे: भाव गेहूं, भाव प्याज, भाव चना

weather = मौसम { $date }: { $text }
weather-none = मौसम की सूचना अभी उपलब्ध नहीं। बाद में फिर पूछें।

soil = मिट्टी { $date }: N { $n ->
        [low] कम
        [medium] मध्यम
       *[high] अधिक
    } P { $p ->
        [low] कम
        [medium] मध्यम
       *[high] अधिक
    } K { $k ->
        [low] कम
        [medium] मध्यम
       *[high] अधिक
    }। { $crop }: N{ $dn } P{ $dp } K{ $dk } kg/ha
soil-no-crop = मिट्टी { $date }: N { $n ->
        [low] कम
        [medium] मध्यम
       *[high] अधिक
    } P { $p ->
        [low] कम
        [medium] मध्यम
       *[high] अधिक
    } K { $k ->
        [low] कम
        [medium] मध्यम
       *[high] अधिक
    } pH { $ph }। खाद हेतु फसल बताएं
soil-none = आपकी मिट्टी जांच दर्ज नहीं। एजेंट से मृदा स्वास्थ्य कार्ड जांच कराएं।

moisture = मिट्टी की नमी { $value }% ({ $time }, सेंसर { $sensor })
moisture-no-sensor = आपके खेत पर अभी कोई नमी सेंसर नहीं है।
moisture-no-reading = आपके खेत के सेंसर से अभी नमी नहीं मिली।

reg-pending = धन्यवाद { $name }! पंजीकरण दर्ज, एजेंट पुष्टि करेंगे।
reg-already = यह नंबर { $name } के नाम पंजीकृत है।
reg-missing-name = REG के साथ नाम भेजें, जैसे: REG सुनीता पवार
reg-name-too-long = नाम बहुत लंबा है। REG के साथ छोटा नाम भेजें।
reg-confirmed = स्वागत { $name }! पंजीकरण पूरा। मेनू के लिए मदद भेजें।

lang-set = अब जवाब हिंदी में आएंगे।
lang-missing = LANG के साथ भाषा भेजें: LANG HI, LANG MR या LANG EN
lang-unknown = भाषा "{ $word }" पहचानी नहीं। LANG HI, MR या EN भेजें।

stop = अलर्ट बंद। फिर पाने के लिए शुरू भेजें।
start = अलर्ट चालू। बंद करने के लिए बंद भेजें।
