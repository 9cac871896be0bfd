# FarmCo-Pilot notifications (SMS and the message read out on a voice call), English.
# Known message keys; any other key is sent as its `text` argument (broadcasts), see
# edge/src/notify/render.rs. Keep each under 160 characters once rendered.

weather-warning = Weather warning: { $text }
dry-soil = Dry soil on field { $field }: moisture { $value } percent. Please irrigate.
alert = FarmCo alert: { $text }
broadcast = { $text }
notify-fallback = FarmCo notice ({ $key }). Ask your village agent.
digest = FarmCo today: { $items }
