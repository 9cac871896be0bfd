# FarmCo-Pilot SMS replies, English. Every reply must fit one SMS part: 160 GSM-7 characters
# (no ₹, no curly quotes: they would switch the whole message to UCS-2 and 70 characters).
# Arguments arrive formatted (dates as DD.MM.YY, whole numbers); statuses are low|medium|high.

help = FarmCo: PRICE <crop>, WEATHER, SOIL, MOISTURE, REG <name>, LANG MR/HI/EN, STOP/START alerts. E.g. PRICE WHEAT
not-registered = This number is not registered. Send REG <your name> to register; an agent will confirm. PRICE, WEATHER and HELP work for all.

price = { $crop } { $date }: Rs { $min }-{ $max }, modal Rs { $modal }/quintal at { $market }
price-none = No { $crop } price at the box yet. Please ask again later.
price-missing-crop = Send PRICE and a crop, e.g. PRICE WHEAT or BHAV GEHUN
price-unknown-crop = Crop "{ $word }" not known. Try: wheat, rice, onion, soybean, cotton, tur, gram, maize, bajra, jowar

weather = Weather { $date }: { $text }
weather-none = No weather notice at the box yet. Please ask again later.

soil = Soil test { $date }: N { $n ->
        [low] low
        [medium] medium
       *[high] high
    }, P { $p ->
        [low] low
        [medium] medium
       *[high] high
    }, K { $k ->
        [low] low
        [medium] medium
       *[high] high
    }, pH { $ph }. { $crop }: N { $dn } P { $dp } K { $dk } kg/ha
soil-no-crop = Soil test { $date }: N { $n ->
        [low] low
        [medium] medium
       *[high] high
    }, P { $p ->
        [low] low
        [medium] medium
       *[high] high
    }, K { $k ->
        [low] low
        [medium] medium
       *[high] high
    }, pH { $ph }. Tell your agent your crop for a fertilizer dose.
soil-none = No soil test on record for you. Ask your agent for a Soil Health Card test.

moisture = Soil moisture { $value }% at { $time } (sensor { $sensor }).
moisture-no-sensor = No moisture sensor is linked to your farm yet.
moisture-no-reading = Your farm's sensor has not reported moisture yet.

reg-pending = Thank you { $name }. Your registration is noted; an agent will confirm it.
reg-already = This number is already registered to { $name }.
reg-missing-name = Send REG and your name, e.g. REG Sunita Pawar
reg-name-too-long = Name too long. Send REG and a shorter name.
reg-confirmed = Welcome { $name }! You are registered with FarmCo. Send HELP for the menu.

lang-set = Replies will now be in English.
lang-missing = Send LANG and a language, e.g. LANG MR, LANG HI or LANG EN
lang-unknown = Language "{ $word }" not known. Send LANG MR, LANG HI or LANG EN

stop = Alerts stopped. Send START to get them again.
start = Alerts are on. Send STOP to end them.
