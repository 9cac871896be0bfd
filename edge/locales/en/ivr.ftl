# FarmCo-Pilot voice menu (IVR), English. Spoken by the modem's text-to-speech: plain words,
# no symbols. Arguments arrive formatted (dates as spoken words or DD.MM.YYYY, whole numbers).
# List prompts take { $items }, each item rendered with the matching -item message.

ivr-greeting = Namaste. Welcome to the FarmCo farmer helpline.
ivr-menu = For mandi prices press 1. For weather press 2. For your soil card and fertilizer advice press 3. For soil moisture of your farm press 4. For your alerts press 5. To ask an agent to call you press 9. To repeat press 0. To change the language press star.
ivr-mandi-prices = Mandi prices. { $items }
ivr-mandi-price-item = { $commodity } at { $market } on { $date }: { $modal } rupees per quintal, lowest { $min }, highest { $max }.
ivr-weather = Weather. { $items }
ivr-weather-item = { $date }: { $condition }.
ivr-soil-card = Your soil test of { $date }: { $statuses }. { $fertilizer }
ivr-soil-status-item = { $parameter ->
        [n] nitrogen
        [p] phosphorus
        [k] potassium
       *[other] { $parameter }
    } { $status ->
        [low] low
        [medium] medium
       *[high] high
    }
ivr-fertilizer = Fertilizer per acre: { $items }.
ivr-fertilizer-none = For fertilizer advice, tell your agent which crop you grow.
ivr-fertilizer-item = { $product } { $kg } kilo
ivr-soil-moisture = Soil moisture. { $items }
ivr-soil-moisture-item = Sensor { $field }: { $percent } percent, measured on { $date }.
ivr-open-alerts = You have { $count ->
        [0] no open alerts
        [one] one open alert
       *[other] { $count } open alerts
    }. { $items }
ivr-open-alert-item = { $kind ->
        [dry_soil] dry soil
        [storm_warning] storm warning
        [weather_warning] weather warning
        [pest_outbreak] pest outbreak
        [flood_warning] flood warning
        [sensor_silent] sensor silent
        [battery_low] sensor battery low
       *[other] { $kind }
    } on { $date }.
ivr-not-available = Sorry, { $topic ->
        [mandi_prices] mandi prices are
        [weather] the weather report is
        [soil_card] your soil card is
        [soil_moisture] soil moisture of your farm is
       *[open_alerts] your alert list is
    } not available right now.
ivr-agent-callback = Thank you. An agent of your village will call you back.
ivr-invalid-key = That key is not in the menu.
ivr-language-changed = { $language ->
        [hi] Now speaking Hindi.
        [mr] Now speaking Marathi.
       *[en] Now speaking English.
    }
ivr-registration = This number is not registered with FarmCo. Please ask your village agent to register you, or send an SMS with REG and your name.
ivr-voice-not-enabled = Voice calls are not enabled for you. Please ask your village agent.
ivr-goodbye = Thank you for calling. Goodbye.
ivr-notification = An important message for you. { $text }
