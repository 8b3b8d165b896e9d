//! `application/x-www-form-urlencoded` bodies and query strings, parsed the
//! way OAuth requires: a repeated parameter is an error (RFC 6749 §3.1,
//! §3.2), and a parameter without a value counts as absent.
//!
//! [`Form<T>`] extracts a body straight into a serde struct (or an enum
//! tagged by one parameter, like the token endpoint's `grant_type`);
//! [`Params::deserialize`] does the same for a query string or a body
//! already read. Fields are strings, `Option`s of them (absent or empty =
//! `None`), enums of unit variants, numbers and booleans. A missing required
//! field is [`FormError::Missing`] and an unknown enum value
//! [`FormError::Unsupported`], so that each endpoint can answer with its RFC's
//! words.

use std::collections::HashMap;
use std::fmt::Display;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::OAuthError;
use serde::de::value::{BorrowedStrDeserializer, MapDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Unexpected, Visitor};

/// Parameters with at most one value each.
#[derive(Debug, Clone, Default)]
pub struct Params(HashMap<String, String>);

/// Why parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("parameter {0} is repeated")]
    Repeated(String),
    /// A required parameter is absent (or empty).
    #[error("{0} is required")]
    Missing(&'static str),
    /// A parameter that names one of a fixed set of values names another
    /// (for `grant_type`: `unsupported_grant_type`).
    #[error("unsupported value {0}")]
    Unsupported(String),
    /// Anything else serde refused (a number that is not one, ...).
    #[error("{0}")]
    Invalid(String),
}

impl de::Error for FormError {
    fn custom<T: Display>(msg: T) -> Self {
        Self::Invalid(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        Self::Missing(field)
    }

    fn unknown_variant(variant: &str, _expected: &'static [&'static str]) -> Self {
        Self::Unsupported(variant.to_string())
    }
}

impl Params {
    /// Parses, refusing repeated names. Empty values are dropped.
    pub fn parse(input: &[u8]) -> Result<Self, FormError> {
        let (params, repeated) = Self::parse_lenient(input);
        match repeated.into_iter().next() {
            Some(name) => Err(FormError::Repeated(name)),
            None => Ok(params),
        }
    }

    /// Parses, keeping the first value of a repeated name and reporting the
    /// repeated names, for callers that must still read some parameters
    /// (the authorization endpoint needs `redirect_uri` to report an error).
    pub fn parse_lenient(input: &[u8]) -> (Self, Vec<String>) {
        let mut map = HashMap::new();
        let mut repeated = Vec::new();
        for (k, v) in url::form_urlencoded::parse(input) {
            if v.is_empty() {
                continue;
            }
            if map.contains_key(k.as_ref()) {
                if !repeated.iter().any(|r| r == k.as_ref()) {
                    repeated.push(k.into_owned());
                }
                continue;
            }
            map.insert(k.into_owned(), v.into_owned());
        }
        (Self(map), repeated)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Sets `name` to `value`, replacing any value it had.
    pub fn insert(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_string(), value.to_string());
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// Form-encoded again, names in order (what [`parse`](Self::parse) reads back).
    pub fn encode(&self) -> String {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for name in names {
            out.append_pair(name, &self.0[name]);
        }
        out.finish()
    }

    /// The parameters as a `T`; parameters `T` does not name are ignored.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, FormError> {
        T::deserialize(self)
    }
}

/// Whether the request declares a form body.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// A form body deserialized into `T` by the rules above.
///
/// Handlers take `Result<Form<T>, FormRejection>` and answer a rejection in
/// their endpoint's way; [`FormRejection`]'s own response is OAuth's
/// `invalid_request` in JSON, with `Cache-Control: no-store`.
#[derive(Debug, Clone)]
pub struct Form<T>(pub T);

/// Why a form body was not accepted, in the order it is checked.
#[derive(Debug)]
pub enum FormRejection {
    /// The body could not be read: over the route's limit, or cut off.
    Body(BytesRejection),
    /// The content type is not `application/x-www-form-urlencoded`.
    NotForm {
        /// The body was empty (some endpoints accept that as no parameters).
        empty: bool,
    },
    /// A repeated parameter, a missing one, or a value of the wrong kind.
    Invalid(FormError),
}

impl FormRejection {
    /// The text of the `invalid_request` error (or of a page).
    pub fn message(&self) -> String {
        match self {
            Self::Body(_) => "request body too large".into(),
            Self::NotForm { .. } => "the body must be application/x-www-form-urlencoded".into(),
            Self::Invalid(e) => e.to_string(),
        }
    }

    /// The error in OAuth's shape.
    pub fn oauth_error(&self) -> OAuthError {
        OAuthError::invalid_request(self.message())
    }
}

impl From<FormError> for FormRejection {
    fn from(e: FormError) -> Self {
        Self::Invalid(e)
    }
}

impl IntoResponse for FormRejection {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Body(e) => e.status(),
            _ => StatusCode::BAD_REQUEST,
        };
        crate::oauth_error_with_status(status, &self.oauth_error())
    }
}

impl<S, T> FromRequest<S> for Form<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = FormRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = is_form(req.headers());
        // The size limit comes first: an oversized body of any type is refused as such.
        let body = Bytes::from_request(req, state).await.map_err(FormRejection::Body)?;
        if !form {
            return Err(FormRejection::NotForm { empty: body.is_empty() });
        }
        Ok(Form(Params::parse(&body)?.deserialize()?))
    }
}

// Deserialization: the parameters are a map of strings; each value is read
// as whatever the field asks for.

impl<'de> de::Deserializer<'de> for &'de Params {
    type Error = FormError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_map(MapDeserializer::new(self.0.iter().map(|(k, v)| (k.as_str(), Value(v.as_str())))))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// One parameter's value.
struct Value<'de>(&'de str);

impl<'de> IntoDeserializer<'de, FormError> for Value<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! parsed {
    ($($method:ident => $visit:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
            match self.0.parse() {
                Ok(v) => visitor.$visit(v),
                Err(_) => Err(de::Error::invalid_value(Unexpected::Str(self.0), &visitor)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Value<'de> {
    type Error = FormError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_borrowed_str(self.0)
    }

    /// Present means non-empty: empty values were dropped when parsing.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FormError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormError> {
        visitor.visit_enum(BorrowedStrDeserializer::<FormError>::new(self.0))
    }

    parsed! {
        deserialize_bool => visit_bool,
        deserialize_i8 => visit_i8, deserialize_i16 => visit_i16, deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64, deserialize_u8 => visit_u8, deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32, deserialize_u64 => visit_u64,
    }

    serde::forward_to_deserialize_any! {
        i128 u128 f32 f64 char str string bytes byte_buf unit unit_struct seq
        tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[test]
    fn parses_and_refuses_repeats() {
        let p = Params::parse(b"a=1&b=x+y%2Bz&empty=&c=%C3%A9").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x y+z"));
        assert_eq!(p.get("empty"), None);
        assert_eq!(p.get("c"), Some("é"));
        assert_eq!(Params::parse(b"a=1&a=2").unwrap_err(), FormError::Repeated("a".into()));
        let (p, rep) = Params::parse_lenient(b"a=1&a=2&b=3");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(rep, vec!["a"]);
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Credentials {
        client_id: Option<String>,
        client_secret: Option<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "grant_type", rename_all = "snake_case")]
    enum Grant {
        AuthorizationCode { code: String, code_verifier: Option<String> },
        ClientCredentials { scope: Option<String> },
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct TokenForm {
        #[serde(flatten)]
        client: Credentials,
        #[serde(flatten)]
        grant: Grant,
    }

    fn form<T: DeserializeOwned>(input: &str) -> Result<T, FormError> {
        Params::parse(input.as_bytes())?.deserialize()
    }

    #[test]
    fn typed_forms() {
        let t: TokenForm = form("grant_type=authorization_code&code=c&client_id=app&extra=x").unwrap();
        assert_eq!(t.grant, Grant::AuthorizationCode { code: "c".into(), code_verifier: None });
        assert_eq!(t.client, Credentials { client_id: Some("app".into()), client_secret: None });
        let t: TokenForm = form("grant_type=client_credentials&scope=a+b&client_secret=").unwrap();
        assert_eq!(t.grant, Grant::ClientCredentials { scope: Some("a b".into()) });
        assert_eq!(t.client.client_secret, None, "an empty value is absent");

        // The errors endpoints turn into their RFC's words.
        assert_eq!(form::<TokenForm>("code=c").unwrap_err(), FormError::Missing("grant_type"));
        assert_eq!(form::<TokenForm>("grant_type=").unwrap_err(), FormError::Missing("grant_type"));
        assert_eq!(form::<TokenForm>("grant_type=authorization_code").unwrap_err(), FormError::Missing("code"));
        assert_eq!(form::<TokenForm>("grant_type=password").unwrap_err(), FormError::Unsupported("password".into()));
        assert_eq!(
            form::<TokenForm>("grant_type=client_credentials&x=1&x=2").unwrap_err(),
            FormError::Repeated("x".into()),
            "a repeat of any parameter, named or not"
        );
        assert_eq!(FormError::Missing("code").to_string(), "code is required");
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Decision {
        Allow,
        Deny,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Mixed {
        decision: Option<Decision>,
        #[serde(default)]
        username: String,
        limit: Option<u32>,
        flag: Option<bool>,
    }

    #[test]
    fn enums_numbers_and_defaults() {
        let m: Mixed = form("decision=deny&limit=5&flag=true").unwrap();
        assert_eq!(
            m,
            Mixed { decision: Some(Decision::Deny), username: String::new(), limit: Some(5), flag: Some(true) }
        );
        assert_eq!(form::<Mixed>("decision=maybe").unwrap_err(), FormError::Unsupported("maybe".into()));
        assert!(matches!(form::<Mixed>("limit=many").unwrap_err(), FormError::Invalid(_)));
        assert!(matches!(form::<Mixed>("limit=-1").unwrap_err(), FormError::Invalid(_)));
    }

    #[derive(Debug, Deserialize)]
    struct RevocationLike {
        token: String,
        token_type_hint: Option<String>,
    }

    async fn extract(content_type: Option<&str>, body: &str) -> Result<RevocationLike, FormRejection> {
        let mut req = axum::http::Request::builder().method("POST").uri("/revoke");
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let req = req.body(axum::body::Body::from(body.to_string())).unwrap();
        Form::<RevocationLike>::from_request(req, &()).await.map(|Form(f)| f)
    }

    /// The rejection as the client sees it: status, OAuth error code, description.
    async fn answered(rejection: FormRejection) -> (StatusCode, serde_json::Value) {
        let res = rejection.into_response();
        let status = res.status();
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        let body = axum::body::to_bytes(res.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn the_extractor_answers_in_oauths_words() {
        const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
        let f =
            extract(Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"), "token=t&unknown=ignored").await.unwrap();
        assert_eq!((f.token.as_str(), f.token_type_hint), ("t", None), "unknown parameters are ignored");

        let repeated = extract(FORM, "token=a&token=b").await.unwrap_err();
        assert!(matches!(&repeated, FormRejection::Invalid(FormError::Repeated(p)) if p == "token"));
        let (status, body) = answered(repeated).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["error_description"], "parameter token is repeated");

        // A repeat of a parameter the endpoint does not read is refused too (RFC 6749 §3.1).
        let (_, body) = answered(extract(FORM, "token=a&x=1&x=1").await.unwrap_err()).await;
        assert_eq!(body["error_description"], "parameter x is repeated");

        for missing in ["token_type_hint=access_token", "token=", ""] {
            let (status, body) = answered(extract(FORM, missing).await.unwrap_err()).await;
            assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &"invalid_request".into()), "{missing}");
            assert_eq!(body["error_description"], "token is required");
        }

        let not_form = extract(Some("application/json"), r#"{"token":"t"}"#).await.unwrap_err();
        assert!(matches!(not_form, FormRejection::NotForm { empty: false }));
        let (status, body) = answered(not_form).await;
        assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &"invalid_request".into()));
        assert!(matches!(extract(None, "").await.unwrap_err(), FormRejection::NotForm { empty: true }));
    }
}
