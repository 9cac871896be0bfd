# FarmCo-Pilot voice menu (IVR), Hindi. Spoken by the modem's text-to-speech: plain words,
# no symbols. Arguments arrive formatted (dates as DD.MM.YYYY, whole numbers).
# List prompts take { $items }, each item rendered with the matching -item message.

ivr-greeting = नमस्ते। फार्मको किसान हेल्पलाइन में आपका स्वागत है।
ivr-menu = मंडी भाव के लिए 1 दबाएं। मौसम के लिए 2 दबाएं। मिट्टी कार्ड और खाद सलाह के लिए 3 दबाएं। खेत की नमी के लिए 4 दबाएं। आपके अलर्ट के लिए 5 दबाएं। एजेंट से बात के लिए 9 दबाएं। दोबारा सुनने के लिए 0 दबाएं। भाषा बदलने के लिए स्टार दबाएं।
ivr-mandi-prices = मंडी भाव। { $items }
ivr-mandi-price-item = { $commodity }, { $market }, { $date }: { $modal } रुपये प्रति क्विंटल, कम से कम { $min }, अधिकतम { $max }।
ivr-weather = मौसम। { $items }
ivr-weather-item = { $date }: { $condition }।
ivr-soil-card = आपकी मिट्टी जांच { $date }: { $statuses }। { $fertilizer }
ivr-soil-status-item = { $parameter ->
        [n] नाइट्रोजन
        [p] फास्फोरस
        [k] पोटाश
       *[other] { $parameter }
    } { $status ->
        [low] कम
        [medium] मध्यम
       *[high] अधिक
    }
ivr-fertilizer = प्रति एकड़ खाद: { $items }।
ivr-fertilizer-none = खाद सलाह के लिए अपने एजेंट को अपनी फसल बताएं।
ivr-fertilizer-item = { $product } { $kg } किलो
ivr-soil-moisture = मिट्टी की नमी। { $items }
ivr-soil-moisture-item = सेंसर { $field }: { $percent } प्रतिशत, { $date } को मापा।
ivr-open-alerts = { $count ->
        [0] आपका कोई खुला अलर्ट नहीं है।
        [one] आपका एक खुला अलर्ट है।
       *[other] आपके { $count } खुले अलर्ट हैं।
    } { $items }
ivr-open-alert-item = { $kind ->
        [dry_soil] सूखी मिट्टी
        [storm_warning] तूफान की चेतावनी
        [weather_warning] मौसम की चेतावनी
        [pest_outbreak] कीट प्रकोप
        [flood_warning] बाढ़ की चेतावनी
        [sensor_silent] सेंसर बंद
        [battery_low] सेंसर की बैटरी कम
       *[other] { $kind }
    }, { $date }।
ivr-not-available = माफ़ कीजिए, { $topic ->
        [mandi_prices] मंडी भाव
        [weather] मौसम की जानकारी
        [soil_card] आपका मिट्टी कार्ड
        [soil_moisture] खेत की नमी
       *[open_alerts] अलर्ट की सूची
    } अभी उपलब्ध नहीं है।
ivr-agent-callback = धन्यवाद। आपके गांव के एजेंट आपको फोन करेंगे।
ivr-invalid-key = यह बटन मेनू में नहीं है।
ivr-language-changed = { $language ->
        [hi] अब हिंदी में बात होगी।
        [mr] अब मराठी में बात होगी।
       *[en] अब अंग्रेज़ी में बात होगी।
    }
ivr-registration = यह नंबर फार्मको में पंजीकृत नहीं है। अपने गांव के एजेंट से पंजीकरण कराएं, या REG और अपना नाम SMS करें।
ivr-voice-not-enabled = आपके लिए फोन सेवा चालू नहीं है। अपने गांव के एजेंट से बात करें।
ivr-goodbye = फोन करने के लिए धन्यवाद। नमस्ते।
ivr-notification = आपके लिए एक ज़रूरी संदेश। { $text }
