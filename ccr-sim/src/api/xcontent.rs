//! Media types as Elasticsearch's REST layer reads and writes them: the `Content-Type` and
//! `Accept` headers (`RestRequest`, `ParsedMediaType`, `MediaTypeRegistry`), the
//! compatible-with versions (`RestCompatibleVersionHelper`), request bodies in JSON, YAML and
//! CBOR, and the response format (`AbstractRestChannel.newBuilder`: `?format=`, then `Accept`,
//! then the request's own type, then JSON).
//!
//! SMILE is known to the registry but the simulator has no SMILE codec: SMILE bodies are
//! refused as an unsupported `Content-Type` and SMILE responses with a 406 saying so.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::api::reply::{Reply, Req};
use crate::error::EsError;
use crate::version::Version;

/// The XContent families ES knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum XContent {
    Json,
    Yaml,
    Cbor,
    Smile,
}

impl XContent {
    /// `XContentType.fromFormat`: the `?format=` short names.
    fn from_format(f: &str) -> Option<Self> {
        match f.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "yaml" => Some(Self::Yaml),
            "cbor" => Some(Self::Cbor),
            "smile" => Some(Self::Smile),
            _ => None,
        }
    }

    /// The short name ES prints (`Content-Type [yaml] does not support stream parsing`).
    pub(crate) fn short_name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Yaml => "yaml",
            Self::Cbor => "cbor",
            Self::Smile => "smile",
        }
    }
}

/// A media type the registry knows, with its compatible-with version if it carries one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Media {
    pub kind: XContent,
    /// `application/vnd.elasticsearch+…`.
    pub vendor: bool,
    /// `…x-ndjson` (parsed as JSON, line by line, by the streaming handlers).
    pub ndjson: bool,
}

/// A syntactically valid header value: `type/subtype` and its parameters, lower-cased.
#[derive(Clone, Debug)]
struct Parsed {
    original: String,
    essence: String,
    params: BTreeMap<String, String>,
}

/// `ParsedMediaType.parseMediaType`: `None` for media ranges (`*/*`, lists with a comma),
/// an error for a value that is not `type/subtype[; k=v]*`.
fn parse_header(value: &str) -> Result<Option<Parsed>, String> {
    if value.contains(',') || value.trim() == "*/*" {
        return Ok(None);
    }
    let lower = value.to_ascii_lowercase();
    let mut elements = lower.split(';');
    let essence = elements.next().unwrap_or("");
    let tchar = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
    };
    let parts: Vec<&str> = essence.split('/').collect();
    if parts.len() != 2 || !tchar(parts[0].trim()) || !tchar(parts[1].trim()) {
        return Err(format!("invalid media-type [{value}]"));
    }
    let mut params = BTreeMap::new();
    for p in elements {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        let kv: Vec<&str> = p.split('=').collect();
        if kv.len() != 2 || kv[0].ends_with(' ') || kv[1].starts_with(' ') {
            return Err(format!("invalid parameters for header [{value}]"));
        }
        params.insert(kv[0].trim().to_string(), kv[1].trim().to_string());
    }
    Ok(Some(Parsed {
        original: value.to_string(),
        essence: format!("{}/{}", parts[0].trim(), parts[1].trim()),
        params,
    }))
}

/// Whether this version has the `application/vnd.elasticsearch+…` types and compatible-with
/// checking: 7.13+ (the version the official clients document for the compatibility header),
/// where 7.x accepts only 7.
fn has_compat(v: Version) -> bool {
    v.at_least(7, 13)
}

/// The registry lookup (`ParsedMediaType.toMediaType`): the type and its parameters must be
/// known (`charset=utf-8` everywhere, `compatible-with=<digits>` on the vendor types).
fn lookup(p: &Parsed, v: Version) -> Option<Media> {
    let essence = p.essence.as_str();
    let (vendor, rest) = match essence.strip_prefix("application/vnd.elasticsearch+") {
        Some(r) if has_compat(v) => (true, r),
        Some(_) => return None,
        None => (false, essence.strip_prefix("application/")?),
    };
    let (kind, ndjson) = match rest {
        "json" => (XContent::Json, false),
        "x-ndjson" => (XContent::Json, true),
        "yaml" => (XContent::Yaml, false),
        "cbor" => (XContent::Cbor, false),
        "smile" => (XContent::Smile, false),
        _ => return None,
    };
    if has_compat(v) {
        for (k, val) in &p.params {
            let ok = match k.as_str() {
                "charset" => val == "utf-8",
                "compatible-with" => {
                    vendor && !val.is_empty() && val.bytes().all(|b| b.is_ascii_digit())
                }
                _ => false,
            };
            if !ok {
                return None;
            }
        }
    }
    Some(Media {
        kind,
        vendor,
        ndjson,
    })
}

fn header_error(headers: &str, cause: EsError) -> EsError {
    EsError::new(
        400,
        "media_type_header_exception",
        format!("Invalid media-type value on headers [{headers}]"),
    )
    .caused_by(cause.foreign())
}

fn status_exception(reason: String) -> EsError {
    EsError::new(400, "status_exception", reason)
}

/// The request's `Content-Type`, checked as ES's `RestRequest` constructor does: a malformed
/// `Accept` or `Content-Type` is a 400 `media_type_header_exception`, and so are compatible-with
/// versions this major does not serve (8.x serves 7 and 8, 9.x 8 and 9, 7.x only 7) or that
/// disagree between the two headers when there is a body. `None` when there is no
/// `Content-Type` or the registry does not know it (the 406 comes later, once a handler is
/// found, as in `RestController.dispatchRequest`).
pub(crate) fn check_headers(req: &Req, v: Version) -> Result<Option<Media>, EsError> {
    if !has_compat(v) {
        // Before REST API compatibility ES matched the bare media type and ignored parameters.
        let ct = req.content_type.as_deref().map(|ct| {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            Parsed {
                original: ct.to_string(),
                essence,
                params: BTreeMap::new(),
            }
        });
        return Ok(ct.and_then(|p| lookup(&p, v)));
    }
    let accept = match req.accept.as_deref() {
        Some(a) => {
            parse_header(a).map_err(|e| header_error("Accept", EsError::illegal_argument(e)))?
        }
        None => None,
    };
    let content_type = match req.content_type.as_deref() {
        Some(c) => parse_header(c)
            .map_err(|e| header_error("Content-Type", EsError::illegal_argument(e)))?,
        None => None,
    };
    let both = "Accept, Content-Type";
    let version_of = |p: &Option<Parsed>| -> Result<Option<u32>, EsError> {
        match p.as_ref().and_then(|p| p.params.get("compatible-with")) {
            None => Ok(None),
            Some(s) => s.parse::<u8>().map(|n| Some(u32::from(n))).map_err(|_| {
                header_error(
                    both,
                    EsError::new(
                        400,
                        "number_format_exception",
                        format!("For input string: \"{s}\""),
                    ),
                )
            }),
        }
    };
    let shown = |p: &Option<Parsed>| {
        p.as_ref()
            .map_or("null".to_string(), |p| p.original.clone())
    };
    let a_ver = version_of(&accept)?;
    let c_ver = version_of(&content_type)?;
    let current = v.major;
    let minimum = if current >= 8 { current - 1 } else { current };
    let accept_version = a_ver.unwrap_or(current);
    let content_version = c_ver.unwrap_or(current);
    if accept_version > current || accept_version < minimum {
        return Err(header_error(
            both,
            status_exception(format!(
                "Accept version must be either version {current} or {minimum}, but found {accept_version}. Accept={}",
                shown(&accept)
            )),
        ));
    }
    if !req.body.is_empty() {
        if content_version > current || content_version < minimum {
            return Err(header_error(
                both,
                status_exception(format!(
                    "Content-Type version must be either version {current} or {minimum}, but found {content_version}. Content-Type={}",
                    shown(&content_type)
                )),
            ));
        }
        if content_version != accept_version {
            return Err(header_error(
                both,
                status_exception(format!(
                    "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. Accept={}, Content-Type={}",
                    shown(&accept),
                    shown(&content_type)
                )),
            ));
        }
        if a_ver.is_some() != c_ver.is_some() {
            return Err(header_error(
                both,
                status_exception(format!(
                    "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version. Accept={}, Content-Type={}",
                    shown(&accept),
                    shown(&content_type)
                )),
            ));
        }
    }
    Ok(content_type.as_ref().and_then(|p| lookup(p, v)))
}

/// `RestController.sendContentTypeErrorMessage`: a body whose type ES cannot read (406).
pub(crate) fn unsupported_content_type(req: &Req) -> Reply {
    let msg = match req.content_type.as_deref() {
        None => "Content-Type header is missing".to_string(),
        Some(ct) => format!("Content-Type header [{ct}] is not supported"),
    };
    Reply::error_body(406, json!({"error": msg, "status": 406}))
}

/// The body re-encoded as JSON for the handlers (which all read JSON), or `None` when it
/// already is JSON. YAML and CBOR parse errors are reported as ES reports XContent errors
/// (the text after the position is the decoder's own, not Jackson's).
pub(crate) fn body_as_json(media: &Media, body: &[u8]) -> Result<Option<Vec<u8>>, EsError> {
    let value: Value = match media.kind {
        XContent::Json | XContent::Smile => return Ok(None),
        XContent::Yaml => serde_yaml::from_slice(body).map_err(|e| {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            EsError::x_content(format!("[{line}:{col}] {e}"))
        })?,
        XContent::Cbor => {
            ciborium::de::from_reader(body).map_err(|e| EsError::x_content(format!("[1:1] {e}")))?
        }
    };
    Ok(Some(value.to_string().into_bytes()))
}

/// The response format and its `Content-Type`, chosen as `AbstractRestChannel.newBuilder`
/// does; from 8.0 the vendor types echo the `Accept` header's compatible-with version (7.x
/// answers its plain JSON type, as elasticsearch-net PR #5438 observed).
pub(crate) fn response_media(req: &Req, v: Version) -> (XContent, String) {
    let from_format = req.q("format").and_then(XContent::from_format);
    let accept = req
        .accept
        .as_deref()
        .and_then(|a| parse_header(a).ok().flatten());
    let accept_media = accept.as_ref().and_then(|p| lookup(p, v));
    let request_media = if req.body.is_empty() {
        None
    } else {
        req.content_type
            .as_deref()
            .and_then(|c| parse_header(c).ok().flatten())
            .and_then(|p| lookup(&p, v))
    };
    let (kind, vendor) = match (from_format, &accept_media, &request_media) {
        (Some(k), _, _) => (k, false),
        (None, Some(m), _) | (None, None, Some(m)) => (m.kind, m.vendor),
        (None, None, None) => (XContent::Json, false),
    };
    let sub = kind.short_name();
    let vendor = vendor && v.major >= 8;
    let ctype = if vendor {
        match accept
            .as_ref()
            .and_then(|p| p.params.get("compatible-with"))
        {
            Some(n) => format!("application/vnd.elasticsearch+{sub};compatible-with={n}"),
            None => format!("application/vnd.elasticsearch+{sub}"),
        }
    } else if kind == XContent::Json && v.major < 8 {
        "application/json; charset=UTF-8".to_string()
    } else {
        format!("application/{sub}")
    };
    (kind, ctype)
}

/// Serialises `v` in `kind` (`None` for SMILE, which the simulator cannot write). Pretty JSON
/// ends with a newline, as ES's `prettyPrint().lfAtEnd()`; YAML starts with Jackson's `---`.
pub(crate) fn encode(v: &Value, kind: XContent, pretty: bool) -> Option<Vec<u8>> {
    match kind {
        XContent::Json if pretty => {
            let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
            s.push('\n');
            Some(s.into_bytes())
        }
        XContent::Json => Some(serde_json::to_vec(v).unwrap_or_default()),
        XContent::Yaml => {
            let body = serde_yaml::to_string(v).unwrap_or_default();
            Some(format!("---\n{body}").into_bytes())
        }
        XContent::Cbor => {
            let mut out = Vec::new();
            ciborium::ser::into_writer(v, &mut out).ok()?;
            Some(out)
        }
        XContent::Smile => None,
    }
}
