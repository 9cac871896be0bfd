# FarmCo-Pilot notifications (SMS and the message read out on a voice call), Marathi.
# Known message keys; any other key is sent as its `text` argument (broadcasts), see
# edge/village/src/notify/render.rs. Keep each under 70 characters once rendered where possible.

weather-warning = हवामान इशारा: { $text }
dry-soil = शेत { $field } मधील माती कोरडी: ओलावा { $value }%. पाणी द्या.
alert = फार्मको इशारा: { $text }
broadcast = { $text }
notify-fallback = फार्मको सूचना ({ $key }). तुमच्या एजंटला विचारा.
digest = फार्मको आज: { $items }
