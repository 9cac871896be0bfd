# FarmCo फ़ील्ड-एजेंट ऐप (edge/web), हिन्दी। संदेश-पहचान en/app.ftl और mr/app.ftl जैसी ही हैं।

app-title = फ़ार्मको
language-label = भाषा
nav-back = वापस
nav-farmers = किसान
nav-map = नक्शा
nav-alerts = चेतावनी
nav-sms = एसएमएस
nav-sensors = सेंसर
loading = लोड हो रहा है…
save = सहेजें
cancel = रद्द करें

login-title = लॉग इन
login-intro = गाँव के बॉक्स से जुड़े रहते हुए एक बार लॉग इन करें। उसके बाद काम बिना नेटवर्क के भी चलता रहेगा।
login-again = आपका सत्र समाप्त हो गया है। प्रतीक्षा में बदलाव भेजने के लिए फिर से लॉग इन करें; कुछ भी नहीं खोएगा।
login-username = उपयोगकर्ता नाम
login-password = पासवर्ड
login-submit = लॉग इन करें
login-failed = उपयोगकर्ता नाम या पासवर्ड ग़लत है।
login-rate-limited = बहुत बार ग़लत प्रयास हुए। थोड़ी देर बाद फिर कोशिश करें।
login-offline = बॉक्स से संपर्क नहीं हो रहा। लॉग इन के लिए गाँव के वाई-फ़ाई से जुड़ें।
logout = लॉग आउट
logout-wipes = लॉग आउट करने से इस फ़ोन से किसानों का सारा डेटा मिट जाएगा।
logout-loses = { $count ->
    [one] एक बदलाव अभी बॉक्स तक नहीं पहुँचा है। लॉग आउट करने से वह और किसानों का सारा डेटा इस फ़ोन से मिट जाएगा।
   *[other] { $count } बदलाव अभी बॉक्स तक नहीं पहुँचे हैं। लॉग आउट करने से वे और किसानों का सारा डेटा इस फ़ोन से मिट जाएगा।
}
signed-in-as = लॉग इन उपयोगकर्ता:

sync-waiting = { $count ->
    [one] एक बदलाव बॉक्स की प्रतीक्षा में
   *[other] { $count } बदलाव बॉक्स की प्रतीक्षा में
}
sync-all-sent = सब कुछ बॉक्स को भेजा जा चुका है
sync-rejected = { $count ->
    [one] एक बदलाव अस्वीकार हुआ
   *[other] { $count } बदलाव अस्वीकार हुए
}
sync-last-contact = पिछला संपर्क { $time }
sync-never-contact = अभी तक बॉक्स से संपर्क नहीं हुआ
sync-box-unreachable = बॉक्स पहुँच से बाहर है।
sync-title = बदलाव और फ़ोन
sync-send-now = अभी भेजें
sync-sending = भेजा जा रहा है…
sync-item-rejected = बॉक्स ने इसे अस्वीकार किया
sync-item-field = खाना
sync-fix = सुधारें
sync-discard = हटाएँ
storage-not-persistent = भंडारण सुरक्षित नहीं: जगह कम होने पर फ़ोन सहेजा गया काम मिटा सकता है।
storage-granted = सहेजा गया काम इस फ़ोन पर सुरक्षित है।
storage-refused = फ़ोन ने सहेजे गए काम की सुरक्षा से मना किया: जगह खाली रखें और बदलाव जल्दी-जल्दी भेजें।
storage-unsupported = यह ब्राउज़र सहेजे गए काम को सुरक्षित नहीं कर सकता।
storage-unknown = भंडारण सुरक्षा जाँची जा रही है…
insecure-no-offline = बिना नेटवर्क के काम के लिए बॉक्स का सुरक्षित पता खोलें (प्रमाणपत्र वाला पेज देखें)।
phone-title = यह फ़ोन
cached-as-of = { $time } की सहेजी गई प्रति
offline-no-copy = अभी बिना नेटवर्क के उपलब्ध नहीं: जुड़े रहते हुए यह स्क्रीन एक बार खोलें।

kind-create-farmer = नया किसान
kind-patch-farmer = किसान में बदलाव
kind-create-farm = नया खेत
kind-create-soil-test = नई मिट्टी जाँच
kind-ack-alert = चेतावनी स्वीकार की
kind-confirm-registration = पंजीकरण की पुष्टि
kind-reject-registration = पंजीकरण अस्वीकार
badge-waiting = बॉक्स की प्रतीक्षा
badge-rejected = बॉक्स ने अस्वीकार किया

farmers-search = नाम या फ़ोन से खोजें
farmers-village = गाँव
farmers-all-villages = मेरे सभी गाँव
farmers-count = { $count ->
    [0] कोई किसान नहीं
    [one] एक किसान
   *[other] { $count } किसान
}
farms-count = { $count ->
    [0] कोई खेत नहीं
    [one] एक खेत
   *[other] { $count } खेत
}
village-code = गाँव { $code }
farmer-register = किसान पंजीकरण
farmer-edit = बदलें
farmer-not-found = किसान नहीं मिला
farmer-name = नाम
farmer-phone = मोबाइल नंबर
farmer-phone-hint = 10 अंक, जैसे 98123 45678
farmer-language = भाषा
farmer-village = गाँव
farmer-consents = सहमतियाँ
consent-sms = एसएमएस संदेश
consent-voice = आवाज़ कॉल
consent-data_sharing = डेटा साझा करना

lang-en = अंग्रेज़ी
lang-hi = हिन्दी
lang-mr = मराठी
lang-te = तेलुगु
lang-ta = तमिल
lang-kn = कन्नड़
lang-gu = गुजराती
lang-pa = पंजाबी
lang-bn = बांग्ला
lang-or = ओड़िया

farms-title = खेत
farms-none = अभी कोई खेत दर्ज नहीं।
farm-add = खेत जोड़ें
farm-survey = सर्वे नंबर
farm-declared = घोषित { $area } हेक्टेयर
farm-declared-label = घोषित क्षेत्रफल (हेक्टेयर)
farm-crop = फ़सल
farm-crop-hint = जैसे गेहूं, प्याज, सोयाबीन
farm-season = मौसम
farm-need-ring = कम से कम तीन बिंदु लें और सीमा बंद करें।
farm-need-survey-area = सर्वे नंबर और घोषित क्षेत्रफल भरें।
warning-area_mismatch = क्षेत्रफल घोषित क्षेत्रफल से अलग है
warning-overlap = दूसरे खेत से टकराता है
area-ha = { $area } हेक्टेयर
season-kharif = खरीफ़
season-rabi = रबी
season-zaid = ज़ायद

map-label = गाँव के खेतों का नक्शा
map-zoom-in = पास से देखें
map-zoom-out = दूर से देखें
capture-walk = सीमा पर चलें
capture-tap = नक्शे पर छुएँ
capture-start-walk = चलना शुरू करें
capture-pause = रोकें
capture-undo = बिंदु हटाएँ
capture-close = सीमा बंद करें
capture-points = { $count ->
    [0] कोई बिंदु नहीं
    [one] एक बिंदु
   *[other] { $count } बिंदु
}
capture-crossing = सीमा लाल बिंदु पर ख़ुद को काटती है।
gps-accuracy = जीपीएस सटीकता { $meters } मीटर
gps-dropped = { $count ->
    [one] एक बिंदु छोड़ा गया (सटीकता { $max } मीटर से ख़राब)
   *[other] { $count } बिंदु छोड़े गए (सटीकता { $max } मीटर से ख़राब)
}
gps-denied = स्थान की अनुमति नहीं मिली।
gps-unavailable = जीपीएस उपलब्ध नहीं।

soil-tests-title = मिट्टी जाँच
soil-tests-none = अभी कोई मिट्टी जाँच नहीं।
soil-test-add = मिट्टी जाँच जोड़ें
soil-sampled-on = नमूने की तारीख़
soil-lab = प्रयोगशाला
soil-range = सीमा { $min } – { $max }
soil-need-one = कम से कम एक मान भरें।
soil-need-lab = प्रयोगशाला का नाम भरें।
soil-error-not_a_number = यह संख्या नहीं है
soil-error-out_of_range = संभावित सीमा से बाहर
soil-ph = पीएच
soil-ec = विद्युत चालकता
soil-oc = जैविक कार्बन
soil-n = नाइट्रोजन
soil-p = फ़ॉस्फ़ोरस
soil-k = पोटैशियम
soil-s = गंधक
soil-zn = जस्ता
soil-fe = लोहा
soil-cu = तांबा
soil-mn = मैंगनीज़
soil-b = बोरॉन
rating-low = कम
rating-medium = मध्यम
rating-high = अधिक
advice-dose = { $crop } के लिए मात्रा: नाइट्रोजन { $n }, फ़ॉस्फ़ेट { $p }, पोटाश { $k } किग्रा/हेक्टेयर
crop-wheat = गेहूं
crop-rice = धान
crop-onion = प्याज
crop-soybean = सोयाबीन
crop-cotton = कपास
crop-sugarcane = गन्ना
crop-tomato = टमाटर
crop-gram = चना
crop-tur = अरहर
crop-maize = मक्का
crop-bajra = बाजरा
crop-jowar = ज्वार
crop-potato = आलू
crop-groundnut = मूंगफली
crop-mustard = सरसों

history-title = इतिहास
history-offline = बॉक्स से जुड़ने पर इतिहास दिखेगा।
history-action = { $action ->
    [create_farmer] ने पंजीकरण किया
    [update_farmer] ने किसान में बदलाव किया
    [add_farm] ने खेत जोड़ा
    [update_farm] ने खेत में बदलाव किया
    [add_soil_test] ने मिट्टी जाँच जोड़ी
   *[other] ने बदलाव किया
}

sensors-title = सेंसर
sensors-none = अभी कोई सेंसर नहीं।
sensor-title = सेंसर
sensor-on-farm = खेत पर
sensor-no-farm = किसी खेत पर नहीं
sensor-metric = माप
sensor-last = आख़िरी माप
sensor-no-readings = इस अवधि में कोई माप नहीं।
range-day = दिन
range-week = सप्ताह
range-month = महीना
chart-time = समय
chart-avg = औसत
chart-min = न्यूनतम
chart-max = अधिकतम
metric-soil_moisture_vwc = मिट्टी की नमी
metric-soil_temp_c = मिट्टी का तापमान
metric-air_temp_c = हवा का तापमान
metric-humidity_pct = आर्द्रता
metric-rainfall_mm = वर्षा
metric-leaf_wetness_pct = पत्तों की नमी
metric-battery_v = बैटरी

alerts-title = खुली चेतावनियाँ
alerts-none = कोई खुली चेतावनी नहीं।
alerts-ack = स्वीकार करें
severity-info = सूचना
severity-warning = चेतावनी
severity-critical = गंभीर

sms-title = एसएमएस पंजीकरण
sms-none = कोई पंजीकरण प्रतीक्षा में नहीं।
sms-confirm = पुष्टि करें
sms-reject = अस्वीकार करें
