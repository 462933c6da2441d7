//! Answers rendered once and sent many times (the whole-fleet read): their compressed forms are
//! made once too and sent as they are. The compression layer compresses everything else per
//! response, and leaves alone a response that already has a `Content-Encoding`.
//!
//! Levels (serverbench, the 1.5 MiB all-servers answer of 1,000 servers): gzip 6 and
//! brotli 5 are what the once-per-fleet compression can afford; see the issue-14 note.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::sync::Arc;

/// What a response body is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

pub const GZIP_LEVEL: u32 = 6;
pub const BROTLI_QUALITY: u32 = 5;

impl Encoding {
    /// The client's best choice from `Accept-Encoding`: brotli, then gzip, then none (a
    /// coding with `q=0` is refused; `*` stands for any).
    pub fn negotiate(headers: &HeaderMap) -> Encoding {
        // (coding, q) as listed; `*` applies only to the codings not listed by name (RFC 9110).
        let mut listed: Vec<(String, f32)> = Vec::new();
        for value in headers.get_all(header::ACCEPT_ENCODING) {
            let Ok(text) = value.to_str() else { continue };
            for item in text.split(',') {
                let mut parts = item.split(';');
                let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
                let q = parts
                    .filter_map(|p| {
                        let (k, v) = p.split_once('=')?;
                        k.trim().eq_ignore_ascii_case("q").then(|| v.trim().parse::<f32>().ok())?
                    })
                    .next()
                    .unwrap_or(1.0);
                if !coding.is_empty() {
                    listed.push((if coding == "x-gzip" { "gzip".into() } else { coding }, q));
                }
            }
        }
        let q_of = |name: &str| {
            listed
                .iter()
                .find(|(c, _)| c == name)
                .or_else(|| listed.iter().find(|(c, _)| c == "*"))
                .map_or(0.0, |(_, q)| *q)
        };
        let (br, gzip) = (q_of("br"), q_of("gzip"));
        // Higher q wins; on a tie brotli (smaller) beats gzip.
        match (br > 0.0, gzip > 0.0) {
            (true, _) if br >= gzip => Encoding::Brotli,
            (_, true) => Encoding::Gzip,
            _ => Encoding::Identity,
        }
    }

    /// The `Content-Encoding` value (`None` for identity).
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Brotli => Some("br"),
            Encoding::Gzip => Some("gzip"),
            Encoding::Identity => None,
        }
    }

    /// `bytes` compressed this way (a copy for `Identity`).
    pub fn compress(self, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Encoding::Identity => Ok(bytes.to_vec()),
            Encoding::Gzip => {
                let mut out = flate2::write::GzEncoder::new(
                    Vec::with_capacity(bytes.len() / 8),
                    flate2::Compression::new(GZIP_LEVEL),
                );
                out.write_all(bytes)?;
                out.finish()
            }
            Encoding::Brotli => {
                let mut out = Vec::with_capacity(bytes.len() / 10);
                let params = brotli::enc::BrotliEncoderParams { quality: BROTLI_QUALITY as i32, ..Default::default() };
                brotli::BrotliCompress(&mut std::io::Cursor::new(bytes), &mut out, &params)?;
                Ok(out)
            }
        }
    }
}

/// A 200 JSON answer whose body is already in `encoding`.
pub fn encoded_json(body: Arc<[u8]>, encoding: Encoding) -> Response {
    let mut resp = (StatusCode::OK, axum::body::Bytes::from_owner(body)).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(coding) = encoding.header() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Encoding {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")));
        Encoding::negotiate(&h)
    }

    #[test]
    fn picks_the_best_coding_the_client_takes() {
        assert_eq!(accept("gzip, deflate"), Encoding::Gzip, "python-requests' default");
        assert_eq!(accept("gzip, deflate, br, zstd"), Encoding::Brotli, "a browser");
        assert_eq!(accept("br;q=0.5, gzip"), Encoding::Gzip);
        assert_eq!(accept("br;q=0, gzip;q=0"), Encoding::Identity);
        assert_eq!(accept("identity"), Encoding::Identity);
        assert_eq!(accept("*"), Encoding::Brotli);
        assert_eq!(accept("br;q=0, *"), Encoding::Gzip, "* covers only what is not listed");
        assert_eq!(accept("gzip;Q=0, br;q=0"), Encoding::Identity, "q in any case");
        assert_eq!(accept("x-gzip"), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn compressed_bodies_decompress_to_the_original() {
        use std::io::Read;
        let body = br#"{"servers":{"web-1":{"status":"running"}}}"#.repeat(100);
        let gz = Encoding::Gzip.compress(&body).unwrap_or_default();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut back).unwrap_or_default();
        assert_eq!(back, body);
        let br = Encoding::Brotli.compress(&body).unwrap_or_default();
        let mut back = Vec::new();
        brotli::BrotliDecompress(&mut std::io::Cursor::new(br), &mut back).unwrap_or_default();
        assert_eq!(back, body);
        assert!(gz.len() < body.len() / 5);
    }
}
