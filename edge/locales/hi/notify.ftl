# FarmCo-Pilot notifications (SMS and the message read out on a voice call), Hindi.
# Known message keys; any other key is sent as its `text` argument (broadcasts), see
# edge/src/notify/render.rs. Keep each under 70 characters once rendered where possible.

weather-warning = मौसम चेतावनी: { $text }
dry-soil = खेत { $field } की मिट्टी सूखी: नमी { $value }%। सिंचाई करें।
alert = फार्मको अलर्ट: { $text }
broadcast = { $text }
notify-fallback = फार्मको सूचना ({ $key })। अपने एजेंट से पूछें।
digest = फार्मको आज: { $items }
