//! Every validation rule of the model's newtypes: accepted forms, normalization, rejection codes
//! and field names.

use farmco_sync::model::{
    FarmId, FarmerId, Language, PersonName, PhoneNumber, Season, SoilParameter, SoilParameters,
    VillageCode,
};
use uuid::Uuid;

#[test]
fn phone_accepts_indian_mobile_forms_and_normalizes() {
    for input in [
        "+919812345678",
        "919812345678",
        "09812345678",
        "9812345678",
        "+91 98123-45678",
        "+91-98123-45678",
        " 98123 45678 ",
        "0 98123 45678",
    ] {
        let phone = PhoneNumber::parse("phone", input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(phone.as_str(), "+919812345678", "{input}");
    }
    for first in ['6', '7', '8', '9'] {
        let input = format!("{first}123456789");
        assert_eq!(
            PhoneNumber::parse("phone", &input).unwrap().as_str(),
            format!("+91{input}")
        );
    }
}

#[test]
fn phone_rejects_everything_else() {
    let cases = [
        ("5812345678", "invalid_phone"),      // first digit not 6-9
        ("0212345678", "invalid_phone"),      // landline-like
        ("02025501234", "invalid_phone"),     // Pune landline with trunk prefix
        ("+912025501234", "invalid_phone"),   // landline in E.164
        ("+14155552671", "invalid_phone"),    // another country
        ("+4915123456789", "invalid_phone"),  // another country
        ("98123456789", "invalid_phone"),     // 11 digits without 0
        ("981234567", "invalid_phone"),       // 9 digits
        ("+9109812345678", "invalid_phone"),  // trunk 0 after +91
        ("98123abcde", "invalid_phone"),      // letters
        ("+91 98123.45678", "invalid_phone"), // other separators
        ("++919812345678", "invalid_phone"),
        ("9812345678 ext 2", "invalid_phone"),
        ("+", "invalid_phone"),
        ("१२३४५६७८९०", "invalid_phone"), // Devanagari digits
        ("9812345678901234567890123456789012345", "invalid_phone"),
        ("", "required"),
        ("   ", "required"),
    ];
    for (input, code) in cases {
        let err = PhoneNumber::parse("farmer.phone", input).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_str()),
            (code, "farmer.phone"),
            "{input}"
        );
    }
}

#[test]
fn language_codes() {
    for language in Language::ALL {
        assert_eq!(
            Language::parse("language", language.code()).unwrap(),
            language
        );
        assert_eq!(language.to_string(), language.code());
    }
    assert_eq!(Language::parse("language", " HI ").unwrap(), Language::Hi);
    let codes: Vec<&str> = Language::ALL.iter().map(|l| l.code()).collect();
    assert_eq!(
        codes,
        ["en", "hi", "mr", "te", "ta", "kn", "gu", "pa", "bn", "or"]
    );
    for bad in ["fr", "hindi", "h", "ur", "e n"] {
        let err = Language::parse("language", bad).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_str()),
            ("invalid_language", "language"),
            "{bad}"
        );
    }
    assert_eq!(
        Language::parse("language", "").unwrap_err().code,
        "required"
    );
}

#[test]
fn village_code_rules() {
    let code = VillageCode::parse("village_code", "556677").unwrap();
    assert_eq!(code.as_u32(), 556_677);
    assert_eq!(code.to_string(), "556677");
    assert_eq!(VillageCode::parse("v", "100000").unwrap().as_u32(), 100_000);
    assert_eq!(VillageCode::parse("v", "999999").unwrap().as_u32(), 999_999);
    assert_eq!(
        VillageCode::parse("v", " 123456 ").unwrap().to_string(),
        "123456"
    );
    for bad in [
        "099999",
        "12345",
        "1234567",
        "12a456",
        "-12345",
        "+12345",
        "12 345",
        "１２３４５６",
    ] {
        let err = VillageCode::parse("village_code", bad).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_str()),
            ("invalid_village_code", "village_code"),
            "{bad}"
        );
    }
    assert_eq!(VillageCode::parse("v", "").unwrap_err().code, "required");
    assert_eq!(
        VillageCode::from_u32("v", 99_999).unwrap_err().code,
        "invalid_village_code"
    );
    assert_eq!(
        VillageCode::from_u32("v", 1_000_000).unwrap_err().code,
        "invalid_village_code"
    );
}

#[test]
fn person_name_rules() {
    assert_eq!(
        PersonName::parse("name", "  Sunita Pawar ")
            .unwrap()
            .as_str(),
        "Sunita Pawar"
    );
    assert_eq!(
        PersonName::parse("name", "सुनीता पवार").unwrap().as_str(),
        "सुनीता पवार"
    );
    let hundred = "अ".repeat(100);
    assert_eq!(
        PersonName::parse("name", &hundred).unwrap().as_str(),
        hundred
    );
    let cases = [
        ("", "required"),
        ("   ", "required"),
        (&*"a".repeat(101), "too_long"),
        (&*"अ".repeat(101), "too_long"),
        ("Sunita\nPawar", "invalid_characters"),
        ("Sunita\u{7}", "invalid_characters"),
        ("Sun\u{0}ita", "invalid_characters"),
    ];
    for (input, code) in cases {
        let err = PersonName::parse("name", input).unwrap_err();
        assert_eq!((err.code, err.field.as_str()), (code, "name"), "{input:?}");
    }
}

#[test]
fn season_rules() {
    for season in [Season::Kharif, Season::Rabi, Season::Zaid] {
        assert_eq!(Season::parse("season", season.as_str()).unwrap(), season);
    }
    assert_eq!(Season::parse("season", "Kharif").unwrap(), Season::Kharif);
    assert_eq!(
        Season::parse("s", "summer").unwrap_err().code,
        "invalid_season"
    );
    assert_eq!(Season::parse("s", "").unwrap_err().code, "required");
}

#[test]
fn soil_parameter_table() {
    let keys: Vec<&str> = SoilParameter::ALL.iter().map(|p| p.key()).collect();
    assert_eq!(
        keys,
        [
            "ph", "ec", "oc", "n", "p", "k", "s", "zn", "fe", "cu", "mn", "b"
        ]
    );
    assert_eq!(SoilParameter::Ph.unit(), "pH");
    assert_eq!(SoilParameter::Ec.unit(), "dS/m");
    assert_eq!(SoilParameter::Oc.unit(), "%");
    assert_eq!(SoilParameter::K.unit(), "kg/ha");
    assert_eq!(SoilParameter::Zn.unit(), "ppm");
    assert_eq!(SoilParameter::Ph.plausible_range(), (2.0, 11.0));
    assert_eq!(SoilParameter::K.plausible_range(), (0.0, 3000.0));
}

#[test]
fn soil_parameters_accept_bounds_and_reject_outside() {
    for parameter in SoilParameter::ALL {
        let (low, high) = parameter.plausible_range();
        for value in [low, high, (low + high) / 2.0] {
            let ok =
                SoilParameters::from_pairs("parameters", [(parameter.key().to_string(), value)])
                    .unwrap();
            assert_eq!(ok.get(parameter), Some(value));
        }
        let span = high - low;
        for value in [low - span * 0.01, high + span * 0.01] {
            let err =
                SoilParameters::from_pairs("parameters", [(parameter.key().to_string(), value)])
                    .unwrap_err();
            assert_eq!(err.code, "out_of_range", "{parameter} {value}");
            assert_eq!(err.field, format!("parameters.{}", parameter.key()));
        }
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err =
                SoilParameters::from_pairs("parameters", [(parameter.key().to_string(), value)])
                    .unwrap_err();
            assert_eq!(err.code, "non_finite");
        }
    }
}

#[test]
fn soil_parameters_other_rules() {
    let all = SoilParameters::from_pairs(
        "parameters",
        SoilParameter::ALL.map(|p| (p.key().to_string(), p.plausible_range().0 + 1.0)),
    )
    .unwrap();
    assert_eq!(all.len(), 12);
    assert_eq!(
        all.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        SoilParameter::ALL
    );

    let upper = SoilParameters::from_pairs("parameters", [("pH".to_string(), 6.5)]).unwrap();
    assert_eq!(upper.get(SoilParameter::Ph), Some(6.5));
    assert_eq!(upper.get(SoilParameter::N), None);

    let err =
        SoilParameters::from_pairs("parameters", [("nitrogen".to_string(), 1.0)]).unwrap_err();
    assert_eq!(
        (err.code, err.field.as_str()),
        ("unknown_parameter", "parameters.nitrogen")
    );
    let err = SoilParameters::from_pairs("", [("xx".to_string(), 1.0)]).unwrap_err();
    assert_eq!(err.field, "xx");

    let err = SoilParameters::from_pairs("parameters", Vec::new()).unwrap_err();
    assert_eq!((err.code, err.field.as_str()), ("required", "parameters"));

    let err = SoilParameters::from_pairs(
        "parameters",
        [("ph".to_string(), 6.0), ("PH".to_string(), 7.0)],
    )
    .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_str()),
        ("duplicate_parameter", "parameters.PH")
    );
}

#[test]
fn ids_display_parse_and_serialize_as_strings() {
    let uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let id = FarmerId(uuid);
    assert_eq!(id.to_string(), "01234567-89ab-cdef-0123-456789abcdef");
    assert_eq!(id.to_string().parse::<FarmerId>().unwrap(), id);
    assert_eq!(
        serde_json::to_string(&id).unwrap(),
        "\"01234567-89ab-cdef-0123-456789abcdef\""
    );
    let back: FarmId = serde_json::from_str("\"01234567-89ab-cdef-0123-456789abcdef\"").unwrap();
    assert_eq!(back, FarmId(uuid));
    assert!("not-a-uuid".parse::<FarmId>().is_err());
    assert_eq!(
        FarmId::parse("farm_id", "nope").unwrap_err().code,
        "invalid_id"
    );
    assert!(FarmId(Uuid::from_u128(1)) < FarmId(Uuid::from_u128(2)));
}
