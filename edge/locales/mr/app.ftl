# FarmCo क्षेत्र-प्रतिनिधी ॲप (edge/web), मराठी. संदेश-ओळख en/app.ftl आणि hi/app.ftl प्रमाणेच आहेत.

app-title = फार्मको
language-label = भाषा
nav-back = मागे
nav-farmers = शेतकरी
nav-map = नकाशा
nav-alerts = सूचना
nav-sms = एसएमएस
nav-sensors = सेन्सर
loading = लोड होत आहे…
save = जतन करा
cancel = रद्द करा

login-title = लॉग इन
login-intro = गावाच्या बॉक्सशी जोडलेले असताना एकदा लॉग इन करा. त्यानंतर काम नेटवर्कशिवायही सुरू राहील.
login-again = तुमचे सत्र संपले आहे. प्रतीक्षेतील बदल पाठवण्यासाठी पुन्हा लॉग इन करा; काहीही हरवणार नाही.
login-username = वापरकर्ता नाव
login-password = पासवर्ड
login-submit = लॉग इन करा
login-failed = वापरकर्ता नाव किंवा पासवर्ड चुकीचा आहे.
login-rate-limited = खूप वेळा चुकीचे प्रयत्न झाले. थोड्या वेळाने पुन्हा प्रयत्न करा.
login-offline = बॉक्सशी संपर्क होत नाही. लॉग इनसाठी गावाच्या वाय-फायला जोडा.
logout = लॉग आउट
logout-wipes = लॉग आउट केल्यास या फोनवरील शेतकऱ्यांची सर्व माहिती पुसली जाईल.
logout-loses = { $count ->
    [one] एक बदल अजून बॉक्सपर्यंत पोहोचलेला नाही. लॉग आउट केल्यास तो आणि शेतकऱ्यांची सर्व माहिती या फोनवरून पुसली जाईल.
   *[other] { $count } बदल अजून बॉक्सपर्यंत पोहोचलेले नाहीत. लॉग आउट केल्यास ते आणि शेतकऱ्यांची सर्व माहिती या फोनवरून पुसली जाईल.
}
signed-in-as = लॉग इन केलेले वापरकर्ता:

sync-waiting = { $count ->
    [one] एक बदल बॉक्सच्या प्रतीक्षेत
   *[other] { $count } बदल बॉक्सच्या प्रतीक्षेत
}
sync-all-sent = सर्व काही बॉक्सकडे पाठवले आहे
sync-rejected = { $count ->
    [one] एक बदल नाकारला
   *[other] { $count } बदल नाकारले
}
sync-last-contact = शेवटचा संपर्क { $time }
sync-never-contact = अजून बॉक्सशी संपर्क झालेला नाही
sync-box-unreachable = बॉक्स संपर्काबाहेर आहे.
sync-title = बदल आणि फोन
sync-send-now = आता पाठवा
sync-sending = पाठवत आहे…
sync-item-rejected = बॉक्सने हे नाकारले
sync-item-field = रकाना
sync-fix = दुरुस्त करा
sync-discard = काढून टाका
storage-not-persistent = साठवण सुरक्षित नाही: जागा कमी पडल्यास फोन जतन केलेले काम पुसू शकतो.
storage-granted = जतन केलेले काम या फोनवर सुरक्षित आहे.
storage-refused = फोनने जतन केलेल्या कामाचे संरक्षण नाकारले: जागा मोकळी ठेवा आणि बदल वारंवार पाठवा.
storage-unsupported = हा ब्राउझर जतन केलेले काम सुरक्षित करू शकत नाही.
storage-unknown = साठवण संरक्षण तपासत आहे…
insecure-no-offline = नेटवर्कशिवाय कामासाठी बॉक्सचा सुरक्षित पत्ता उघडा (प्रमाणपत्राचे पान पहा).
phone-title = हा फोन
cached-as-of = { $time } ची जतन केलेली प्रत
offline-no-copy = अजून नेटवर्कशिवाय उपलब्ध नाही: जोडलेले असताना ही स्क्रीन एकदा उघडा.

kind-create-farmer = नवीन शेतकरी
kind-patch-farmer = शेतकऱ्यात बदल
kind-create-farm = नवीन शेत
kind-create-soil-test = नवीन माती परीक्षण
kind-ack-alert = सूचना स्वीकारली
kind-confirm-registration = नोंदणीची पुष्टी
kind-reject-registration = नोंदणी नाकारली
badge-waiting = बॉक्सच्या प्रतीक्षेत
badge-rejected = बॉक्सने नाकारले

farmers-search = नाव किंवा फोनने शोधा
farmers-village = गाव
farmers-all-villages = माझी सर्व गावे
farmers-count = { $count ->
    [0] एकही शेतकरी नाही
    [one] एक शेतकरी
   *[other] { $count } शेतकरी
}
farms-count = { $count ->
    [0] शेत नाही
    [one] एक शेत
   *[other] { $count } शेते
}
village-code = गाव { $code }
farmer-register = शेतकरी नोंदणी
farmer-edit = बदला
farmer-not-found = शेतकरी सापडला नाही
farmer-name = नाव
farmer-phone = मोबाईल क्रमांक
farmer-phone-hint = 10 अंक, उदा. 98123 45678
farmer-language = भाषा
farmer-village = गाव
farmer-consents = संमती
consent-sms = एसएमएस संदेश
consent-voice = व्हॉइस कॉल
consent-data_sharing = माहिती सामायिक करणे

lang-en = इंग्रजी
lang-hi = हिंदी
lang-mr = मराठी
lang-te = तेलुगू
lang-ta = तमिळ
lang-kn = कन्नड
lang-gu = गुजराती
lang-pa = पंजाबी
lang-bn = बंगाली
lang-or = ओडिया

farms-title = शेते
farms-none = अजून एकही शेत नोंदलेले नाही.
farm-add = शेत जोडा
farm-survey = सर्व्हे क्रमांक
farm-declared = जाहीर { $area } हेक्टर
farm-declared-label = जाहीर क्षेत्रफळ (हेक्टर)
farm-crop = पीक
farm-crop-hint = उदा. गहू, कांदा, सोयाबीन
farm-season = हंगाम
farm-need-ring = किमान तीन बिंदू घ्या आणि हद्द बंद करा.
farm-need-survey-area = सर्व्हे क्रमांक आणि जाहीर क्षेत्रफळ भरा.
warning-area_mismatch = क्षेत्रफळ जाहीर क्षेत्रफळापेक्षा वेगळे आहे
warning-overlap = दुसऱ्या शेताशी ओव्हरलॅप होते
area-ha = { $area } हेक्टर
season-kharif = खरीप
season-rabi = रब्बी
season-zaid = उन्हाळी

map-label = गावातील शेतांचा नकाशा
map-zoom-in = जवळून पहा
map-zoom-out = दुरून पहा
capture-walk = हद्दीवरून चाला
capture-tap = नकाशावर टॅप करा
capture-start-walk = चालणे सुरू करा
capture-pause = थांबवा
capture-undo = बिंदू काढा
capture-close = हद्द बंद करा
capture-points = { $count ->
    [0] एकही बिंदू नाही
    [one] एक बिंदू
   *[other] { $count } बिंदू
}
capture-crossing = हद्द लाल बिंदूवर स्वतःलाच छेदते.
gps-accuracy = जीपीएस अचूकता { $meters } मीटर
gps-dropped = { $count ->
    [one] एक बिंदू वगळला (अचूकता { $max } मीटरपेक्षा वाईट)
   *[other] { $count } बिंदू वगळले (अचूकता { $max } मीटरपेक्षा वाईट)
}
gps-denied = स्थानाची परवानगी नाकारली.
gps-unavailable = जीपीएस उपलब्ध नाही.

soil-tests-title = माती परीक्षण
soil-tests-none = अजून माती परीक्षण नाही.
soil-test-add = माती परीक्षण जोडा
soil-sampled-on = नमुन्याची तारीख
soil-lab = प्रयोगशाळा
soil-range = मर्यादा { $min } – { $max }
soil-need-one = किमान एक मूल्य भरा.
soil-need-lab = प्रयोगशाळेचे नाव भरा.
soil-error-not_a_number = ही संख्या नाही
soil-error-out_of_range = शक्य मर्यादेबाहेर
soil-ph = सामू
soil-ec = विद्युत वाहकता
soil-oc = सेंद्रिय कर्ब
soil-n = नत्र
soil-p = स्फुरद
soil-k = पालाश
soil-s = गंधक
soil-zn = जस्त
soil-fe = लोह
soil-cu = तांबे
soil-mn = मँगनीज
soil-b = बोरॉन
rating-low = कमी
rating-medium = मध्यम
rating-high = जास्त
advice-dose = { $crop } साठी मात्रा: नत्र { $n }, स्फुरद { $p }, पालाश { $k } किलो/हेक्टर
crop-wheat = गहू
crop-rice = भात
crop-onion = कांदा
crop-soybean = सोयाबीन
crop-cotton = कापूस
crop-sugarcane = ऊस
crop-tomato = टोमॅटो
crop-gram = हरभरा
crop-tur = तूर
crop-maize = मका
crop-bajra = बाजरी
crop-jowar = ज्वारी
crop-potato = बटाटा
crop-groundnut = भुईमूग
crop-mustard = मोहरी

history-title = इतिहास
history-offline = बॉक्सशी जोडल्यावर इतिहास दिसेल.
history-action = { $action ->
    [create_farmer] यांनी नोंदणी केली
    [update_farmer] यांनी शेतकऱ्यात बदल केला
    [add_farm] यांनी शेत जोडले
    [update_farm] यांनी शेतात बदल केला
    [add_soil_test] यांनी माती परीक्षण जोडले
   *[other] यांनी बदल केला
}

sensors-title = सेन्सर
sensors-none = अजून एकही सेन्सर नाही.
sensor-title = सेन्सर
sensor-on-farm = शेतावर
sensor-no-farm = कोणत्याही शेतावर नाही
sensor-metric = मोजमाप
sensor-last = शेवटचे मोजमाप
sensor-no-readings = या कालावधीत मोजमाप नाही.
range-day = दिवस
range-week = आठवडा
range-month = महिना
chart-time = वेळ
chart-avg = सरासरी
chart-min = किमान
chart-max = कमाल
metric-soil_moisture_vwc = जमिनीतील ओलावा
metric-soil_temp_c = मातीचे तापमान
metric-air_temp_c = हवेचे तापमान
metric-humidity_pct = आर्द्रता
metric-rainfall_mm = पाऊस
metric-leaf_wetness_pct = पानांचा ओलावा
metric-battery_v = बॅटरी

alerts-title = उघड्या सूचना
alerts-none = एकही उघडी सूचना नाही.
alerts-ack = स्वीकारा
severity-info = माहिती
severity-warning = इशारा
severity-critical = गंभीर

sms-title = एसएमएस नोंदणी
sms-none = एकही नोंदणी प्रतीक्षेत नाही.
sms-confirm = पुष्टी करा
sms-reject = नाकारा
