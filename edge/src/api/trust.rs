//! `/trust`: how a field agent's Android phone trusts the deployment's CA once (issue 12), in
//! English, Hindi and Marathi, with a QR code of the CA's download link; and
//! `/trust/farmco-ca.crt`, the CA certificate itself. Served over plain HTTP too: a phone that
//! does not trust the box yet can only reach it that way.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::SharedState;

/// The CA download path (the QR code links here).
pub const CA_DOWNLOAD_PATH: &str = "/trust/farmco-ca.crt";
/// Longest Host header used to build the links (a name and a port).
const HOST_CHARS_MAX: usize = 261;

/// The host the phone used to reach the box, when it is a plain `name[:port]`.
fn request_host(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let ok = !host.is_empty()
        && host.len() <= HOST_CHARS_MAX
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    ok.then(|| host.to_owned())
}

fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| h)
            .trim_start_matches('[');
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// The CA certificate, for the phone to install.
pub async fn ca_certificate(State(state): State<SharedState>) -> Response {
    match crate::tls::ca_pem(&state.config.data_dir) {
        Some(pem) => (
            [
                (header::CONTENT_TYPE, "application/x-x509-ca-cert"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"farmco-ca.crt\"",
                ),
            ],
            pem,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no CA on this box: run `farmco-edge tls init`",
        )
            .into_response(),
    }
}

/// The instructions page.
pub async fn page(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    let has_ca = crate::tls::ca_pem(&state.config.data_dir).is_some();
    let host = request_host(&headers).unwrap_or_else(|| state.config.listen.to_string());
    let download = format!("http://{host}{CA_DOWNLOAD_PATH}");
    let app_url = state
        .config
        .tls_listen
        .map(|addr| format!("https://{}:{}/", host_without_port(&host), addr.port()));
    let qr = qrcode::QrCode::new(download.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(220, 220)
                .build()
        })
        .unwrap_or_default();
    let app_link = app_url
        .as_deref()
        .map(|u| format!("<p class=\"url\"><a href=\"{u}\">{u}</a></p>"))
        .unwrap_or_default();
    let body = if has_ca {
        format!(
            "{qr}<p class=\"url\"><a href=\"{CA_DOWNLOAD_PATH}\">{download}</a></p>{app_link}{steps}",
            steps = STEPS
        )
    } else {
        NO_CA.to_owned()
    };
    Html(format!("{HEAD}{body}</body></html>")).into_response()
}

const HEAD: &str = r#"<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>FarmCo: trust this box</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:1em auto;padding:0 1em;line-height:1.5}
section{border-top:1px solid #ccc;margin-top:1em}svg{display:block;margin:1em auto}.url{word-break:break-all;text-align:center}</style>
</head><body><h1>FarmCo</h1>"#;

const NO_CA: &str = r#"<section lang="en"><p>HTTPS is not set up on this box yet. The operator runs
<code>farmco-edge tls init --name NAME --ip ADDRESS</code> once.</p></section>
<section lang="hi"><p>इस बॉक्स पर अभी एचटीटीपीएस चालू नहीं है। संचालक एक बार
<code>farmco-edge tls init</code> चलाएँ।</p></section>
<section lang="mr"><p>या बॉक्सवर अजून एचटीटीपीएस सुरू नाही. संचालकाने एकदा
<code>farmco-edge tls init</code> चालवावे.</p></section>"#;

const STEPS: &str = r#"
<section lang="en"><h2>Trust this box once (Android)</h2><ol>
<li>Scan the QR code (or tap the link) and download <b>farmco-ca.crt</b>.</li>
<li>Open <b>Settings → Security → Encryption &amp; credentials → Install a certificate → CA certificate</b>
(on some phones: <b>Settings → Security → Install from storage</b>).</li>
<li>Tap <b>Install anyway</b>, pick <b>farmco-ca.crt</b> from Downloads, confirm with your screen lock.</li>
<li>Open the secure address of the app above in Chrome and choose <b>Add to Home screen</b>.
Every box of this deployment is now trusted; the app works offline.</li></ol></section>
<section lang="hi"><h2>इस बॉक्स पर एक बार भरोसा करें (एंड्रॉइड)</h2><ol>
<li>क्यूआर कोड स्कैन करें (या लिंक दबाएँ) और <b>farmco-ca.crt</b> डाउनलोड करें।</li>
<li><b>सेटिंग्स → सुरक्षा → एन्क्रिप्शन और क्रेडेंशियल → प्रमाणपत्र इंस्टॉल करें → सीए प्रमाणपत्र</b> खोलें
(कुछ फ़ोन में: <b>सेटिंग्स → सुरक्षा → स्टोरेज से इंस्टॉल करें</b>)।</li>
<li><b>फिर भी इंस्टॉल करें</b> दबाएँ, डाउनलोड से <b>farmco-ca.crt</b> चुनें और स्क्रीन लॉक से पुष्टि करें।</li>
<li>ऊपर दिया ऐप का सुरक्षित पता क्रोम में खोलें और <b>होम स्क्रीन पर जोड़ें</b> चुनें।
अब इस परियोजना के सभी बॉक्स पर भरोसा है; ऐप बिना नेटवर्क के भी चलेगा।</li></ol></section>
<section lang="mr"><h2>या बॉक्सवर एकदा विश्वास ठेवा (अँड्रॉइड)</h2><ol>
<li>क्यूआर कोड स्कॅन करा (किंवा दुवा दाबा) आणि <b>farmco-ca.crt</b> डाउनलोड करा.</li>
<li><b>सेटिंग्ज → सुरक्षा → एन्क्रिप्शन आणि क्रेडेन्शियल्स → प्रमाणपत्र इंस्टॉल करा → सीए प्रमाणपत्र</b> उघडा
(काही फोनवर: <b>सेटिंग्ज → सुरक्षा → स्टोरेजमधून इंस्टॉल करा</b>).</li>
<li><b>तरीही इंस्टॉल करा</b> दाबा, डाउनलोडमधून <b>farmco-ca.crt</b> निवडा आणि स्क्रीन लॉकने पुष्टी करा.</li>
<li>वर दिलेला ॲपचा सुरक्षित पत्ता क्रोममध्ये उघडा आणि <b>होम स्क्रीनवर जोडा</b> निवडा.
आता या प्रकल्पातील सर्व बॉक्सवर विश्वास आहे; ॲप नेटवर्कशिवायही चालेल.</li></ol></section>"#;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hosts() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "192.168.4.1:8080".parse().unwrap());
        assert_eq!(request_host(&h).as_deref(), Some("192.168.4.1:8080"));
        assert_eq!(host_without_port("192.168.4.1:8080"), "192.168.4.1");
        assert_eq!(host_without_port("box.local"), "box.local");
        assert_eq!(host_without_port("[::1]:8080"), "::1");
        h.insert(header::HOST, "evil\"><script>".parse().unwrap());
        assert_eq!(request_host(&h), None);
    }
}
