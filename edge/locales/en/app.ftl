# FarmCo field-agent app (edge/web), English. Every message here exists in hi/app.ftl and
# mr/app.ftl too (checked by edge/web/tests/unit/i18n.test.js). Plurals use Fluent selectors
# over the locale's plural rules.

app-title = FarmCo
language-label = Language
nav-back = Back
nav-farmers = Farmers
nav-map = Map
nav-alerts = Alerts
nav-sms = SMS
nav-sensors = Sensors
loading = Loading…
save = Save
cancel = Cancel

login-title = Log in
login-intro = Log in once while connected to the village box. Your work then continues offline.
login-again = Your session has ended. Log in again to send the waiting changes; nothing is lost.
login-username = Username
login-password = Password
login-submit = Log in
login-failed = Wrong username or password.
login-rate-limited = Too many failed attempts. Try again later.
login-offline = The box cannot be reached. Join the village Wi-Fi to log in.
logout = Log out
logout-wipes = Logging out deletes all farmer data from this phone.
logout-loses = { $count ->
    [one] One change has not reached the box yet. Logging out deletes it and all farmer data from this phone.
   *[other] { $count } changes have not reached the box yet. Logging out deletes them and all farmer data from this phone.
}
signed-in-as = Signed in as

sync-waiting = { $count ->
    [one] One change waiting for the box
   *[other] { $count } changes waiting for the box
}
sync-all-sent = Everything sent to the box
sync-rejected = { $count ->
    [one] One change refused
   *[other] { $count } changes refused
}
sync-last-contact = Last contact { $time }
sync-never-contact = No contact with the box yet
sync-box-unreachable = Box out of reach.
sync-title = Changes and phone
sync-send-now = Send now
sync-sending = Sending…
sync-item-rejected = The box refused this
sync-item-field = Field
sync-fix = Fix
sync-discard = Discard
storage-not-persistent = Storage not protected: the phone may clear saved work when space runs low.
storage-granted = Saved work is protected on this phone.
storage-refused = The phone refused to protect saved work: keep enough free space and send changes often.
storage-unsupported = This browser cannot protect saved work.
storage-unknown = Checking storage protection…
insecure-no-offline = Offline use needs the secure address of the box (see the certificate page).
phone-title = This phone
cached-as-of = Saved copy from { $time }
offline-no-copy = Not available offline yet: open this screen once while connected.

kind-create-farmer = New farmer
kind-patch-farmer = Farmer edited
kind-create-farm = New farm
kind-create-soil-test = New soil test
kind-ack-alert = Alert acknowledged
kind-confirm-registration = Registration confirmed
kind-reject-registration = Registration rejected
badge-waiting = Waiting for the box
badge-rejected = Refused by the box

farmers-search = Search name or phone
farmers-village = Village
farmers-all-villages = All my villages
farmers-count = { $count ->
    [0] No farmers
    [one] One farmer
   *[other] { $count } farmers
}
farms-count = { $count ->
    [0] No farm
    [one] One farm
   *[other] { $count } farms
}
village-code = Village { $code }
farmer-register = Register farmer
farmer-edit = Edit
farmer-not-found = Farmer not found
farmer-name = Name
farmer-phone = Mobile number
farmer-phone-hint = 10 digits, e.g. 98123 45678
farmer-language = Language
farmer-village = Village
farmer-consents = Consents
consent-sms = SMS messages
consent-voice = Voice calls
consent-data_sharing = Data sharing

lang-en = English
lang-hi = Hindi
lang-mr = Marathi
lang-te = Telugu
lang-ta = Tamil
lang-kn = Kannada
lang-gu = Gujarati
lang-pa = Punjabi
lang-bn = Bengali
lang-or = Odia

farms-title = Farms
farms-none = No farm recorded yet.
farm-add = Add farm
farm-survey = Survey number
farm-declared = { $area } ha declared
farm-declared-label = Declared area (hectares)
farm-crop = Crop
farm-crop-hint = e.g. wheat, onion, soybean
farm-season = Season
farm-need-ring = Capture at least three points and close the boundary.
farm-need-survey-area = Enter the survey number and the declared area.
warning-area_mismatch = Area differs from the declared area
warning-overlap = Overlaps another farm
area-ha = { $area } ha
season-kharif = Kharif
season-rabi = Rabi
season-zaid = Zaid

map-label = Map of the village farms
map-zoom-in = Zoom in
map-zoom-out = Zoom out
capture-walk = Walk the boundary
capture-tap = Tap on map
capture-start-walk = Start walking
capture-pause = Pause
capture-undo = Undo point
capture-close = Close boundary
capture-points = { $count ->
    [0] No points
    [one] One point
   *[other] { $count } points
}
capture-crossing = The boundary crosses itself at the red point.
gps-accuracy = GPS accuracy { $meters } m
gps-dropped = { $count ->
    [one] One point dropped (accuracy worse than { $max } m)
   *[other] { $count } points dropped (accuracy worse than { $max } m)
}
gps-denied = Location permission refused.
gps-unavailable = GPS not available.

soil-tests-title = Soil tests
soil-tests-none = No soil test yet.
soil-test-add = Add soil test
soil-sampled-on = Sample date
soil-lab = Laboratory
soil-range = Range { $min } – { $max }
soil-need-one = Enter at least one value.
soil-need-lab = Enter the laboratory.
soil-error-not_a_number = Not a number
soil-error-out_of_range = Outside the plausible range
soil-ph = pH
soil-ec = Electrical conductivity
soil-oc = Organic carbon
soil-n = Nitrogen
soil-p = Phosphorus
soil-k = Potassium
soil-s = Sulphur
soil-zn = Zinc
soil-fe = Iron
soil-cu = Copper
soil-mn = Manganese
soil-b = Boron
rating-low = low
rating-medium = medium
rating-high = high
advice-dose = Dose for { $crop }: N { $n }, P₂O₅ { $p }, K₂O { $k } kg/ha
crop-wheat = wheat
crop-rice = rice
crop-onion = onion
crop-soybean = soybean
crop-cotton = cotton
crop-sugarcane = sugarcane
crop-tomato = tomato
crop-gram = gram
crop-tur = tur
crop-maize = maize
crop-bajra = bajra
crop-jowar = jowar
crop-potato = potato
crop-groundnut = groundnut
crop-mustard = mustard

history-title = History
history-offline = History is shown when the box is reachable.
history-action = { $action ->
    [create_farmer] registered
    [update_farmer] edited the farmer
    [add_farm] added a farm
    [update_farm] edited a farm
    [add_soil_test] added a soil test
   *[other] changed
}

sensors-title = Sensors
sensors-none = No sensors yet.
sensor-title = Sensor
sensor-on-farm = On a farm
sensor-no-farm = Not on a farm
sensor-metric = Measurement
sensor-last = Last reading
sensor-no-readings = No readings in this period.
range-day = Day
range-week = Week
range-month = Month
chart-time = Time
chart-avg = Average
chart-min = Minimum
chart-max = Maximum
metric-soil_moisture_vwc = Soil moisture
metric-soil_temp_c = Soil temperature
metric-air_temp_c = Air temperature
metric-humidity_pct = Humidity
metric-rainfall_mm = Rainfall
metric-leaf_wetness_pct = Leaf wetness
metric-battery_v = Battery

alerts-title = Open alerts
alerts-none = No open alerts.
alerts-ack = Acknowledge
severity-info = Information
severity-warning = Warning
severity-critical = Critical

sms-title = SMS registrations
sms-none = No registration waiting.
sms-confirm = Confirm
sms-reject = Reject
