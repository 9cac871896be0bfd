# FarmCo-Pilot voice menu (IVR), Marathi. Spoken by the modem's text-to-speech: plain words,
# no symbols. Arguments arrive formatted (dates as DD.MM.YYYY, whole numbers).
# List prompts take { $items }, each item rendered with the matching -item message.
# SIM800-class text-to-speech cannot speak Marathi (English and Chinese only): on such a modem
# these texts are logged and sent as UCS-2, and recorded prompts are what a caller should hear.

ivr-greeting = नमस्कार. फार्मको शेतकरी हेल्पलाइनमध्ये तुमचे स्वागत आहे.
ivr-menu = बाजारभावासाठी 1 दाबा. हवामानासाठी 2 दाबा. माती पत्रिका आणि खत सल्ल्यासाठी 3 दाबा. शेतातील ओलाव्यासाठी 4 दाबा. तुमच्या सूचनांसाठी 5 दाबा. एजंटचा फोन हवा असल्यास 9 दाबा. पुन्हा ऐकण्यासाठी 0 दाबा. भाषा बदलण्यासाठी स्टार दाबा.
ivr-mandi-prices = बाजारभाव. { $items }
ivr-mandi-price-item = { $commodity }, { $market }, { $date }: क्विंटलला { $modal } रुपये, किमान { $min }, कमाल { $max }.
ivr-weather = हवामान. { $items }
ivr-weather-item = { $date }: { $condition }.
ivr-soil-card = तुमची माती तपासणी { $date }: { $statuses }. { $fertilizer }
ivr-soil-status-item = { $parameter ->
        [n] नत्र
        [p] स्फुरद
        [k] पालाश
       *[other] { $parameter }
    } { $status ->
        [low] कमी
        [medium] मध्यम
       *[high] जास्त
    }
ivr-fertilizer = एकरी खत: { $items }.
ivr-fertilizer-none = खताच्या सल्ल्यासाठी तुमच्या एजंटला तुमचे पीक सांगा.
ivr-fertilizer-item = { $product } { $kg } किलो
ivr-soil-moisture = मातीतील ओलावा. { $items }
ivr-soil-moisture-item = सेन्सर { $field }: { $percent } टक्के, { $date } रोजी मोजले.
ivr-open-alerts = { $count ->
        [0] तुमच्यासाठी कोणतीही सूचना नाही.
        [one] तुमच्यासाठी एक सूचना आहे.
       *[other] तुमच्यासाठी { $count } सूचना आहेत.
    } { $items }
ivr-open-alert-item = { $kind ->
        [dry_soil] कोरडी माती
        [storm_warning] वादळाचा इशारा
        [weather_warning] हवामानाचा इशारा
        [pest_outbreak] किडीचा प्रादुर्भाव
        [flood_warning] पुराचा इशारा
        [sensor_silent] सेन्सर बंद
        [battery_low] सेन्सरची बॅटरी कमी
       *[other] { $kind }
    }, { $date } रोजी.
ivr-not-available = माफ करा, { $topic ->
        [mandi_prices] बाजारभाव
        [weather] हवामानाची माहिती
        [soil_card] तुमची माती पत्रिका
        [soil_moisture] शेतातील ओलाव्याची माहिती
       *[open_alerts] सूचनांची यादी
    } सध्या उपलब्ध नाही.
ivr-agent-callback = धन्यवाद. तुमच्या गावाचे एजंट तुम्हाला फोन करतील.
ivr-invalid-key = हे बटण मेनूमध्ये नाही.
ivr-language-changed = { $language ->
        [hi] आता हिंदीत बोलूया.
        [en] आता इंग्रजीत बोलूया.
       *[mr] आता मराठीत बोलूया.
    }
ivr-registration = हा नंबर फार्मकोमध्ये नोंदलेला नाही. तुमच्या गावाच्या एजंटकडून नोंदणी करून घ्या, किंवा नोंदणी आणि तुमचे नाव SMS करा.
ivr-voice-not-enabled = तुमच्यासाठी फोन सेवा सुरू नाही. तुमच्या गावाच्या एजंटशी बोला.
ivr-goodbye = फोन केल्याबद्दल धन्यवाद. नमस्कार.
ivr-notification = तुमच्यासाठी एक महत्त्वाचा संदेश. { $text }
