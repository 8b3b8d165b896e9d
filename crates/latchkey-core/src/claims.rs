//! The claims of the JWTs Latchkey issues: access tokens (RFC 9068), ID
//! tokens (OIDC Core §2) and logout tokens (OIDC Back-Channel Logout §2.4),
//! one struct each, used to mint them and to read them back, so that a claim
//! has one name, one type and one presence rule. Also the end-user claims a
//! scope releases (OIDC Core §5.4), shared by ID tokens and UserInfo.
//!
//! Claims a token must carry are plain fields; optional ones are `Option`s,
//! left out of the JSON when `None`. Reading is strict about types (only our
//! own, signature-checked tokens are read with these) and ignores claims it
//! does not know, so tokens of other versions still read.
//!
//! Fields are declared in the order the claims were written before these
//! structs existed (`serde_json` keeps insertion order here), so a person's
//! access token, an ID token and a logout token are the same JSON, byte for
//! byte; a client's access token has the same claims, `scope` now earlier.

use serde::{Deserialize, Deserializer, Serialize};

use crate::claims_request::SCOPE_CLAIMS;
use crate::grant::Authentication;
use crate::{Scope, User};

/// `aud`: one audience, or several (RFC 7519 §4.1.3). We issue one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, who: &str) -> bool {
        self.iter().any(|a| a == who)
    }

    /// The first audience (the only one, for tokens we issue).
    pub fn first(&self) -> Option<&str> {
        self.iter().next()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let list = match self {
            Self::One(a) => std::slice::from_ref(a),
            Self::Many(list) => list.as_slice(),
        };
        list.iter().map(String::as_str)
    }
}

impl From<String> for Audience {
    fn from(a: String) -> Self {
        Self::One(a)
    }
}

impl From<&str> for Audience {
    fn from(a: &str) -> Self {
        Self::One(a.to_string())
    }
}

/// A JWT access token (RFC 9068 §2.2). A person's token carries how they
/// signed in (`auth_time`, `acr`, `amr`) and, with the `groups` scope, their
/// groups; a client's own token (client_credentials) has `sub` = `client_id`
/// and none of those.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub client_id: String,
    /// Always present in a person's token; in a client's, only when not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// RFC 9068 §2.2.3.1: resource servers authorize by group from the token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// Token exchange with an actor (RFC 8693 §4.1): who acts for `sub`
    /// now, and before it, in nested `act`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// Who may act for `sub` in a later exchange (RFC 8693 §4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_act: Option<Actor>,
    /// Claims UserInfo releases beyond `scope`: those the app asked for one
    /// by one (the `claims` parameter, OIDC Core §5.5) and the person
    /// consented to. UserInfo has only the token to go by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo_claims: Vec<String>,
    /// The key the token is bound to (DPoP, RFC 9449 §6.1): only requests
    /// with a proof by that key may use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// A token's confirmation claim (RFC 7800), as DPoP uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 7638 SHA-256 thumbprint of the key, base64url.
    pub jkt: String,
}

impl AccessTokenClaims {
    /// The DPoP key thumbprint the token is bound to, if any.
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().map(|c| c.jkt.as_str())
    }
}

/// An actor (RFC 8693 §4.1): the party that acts for the token's subject,
/// with the actors before it nested in `act`, most recent outermost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
    /// The client through which a person acts, when it is not `sub` itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

impl Actor {
    /// The actors from the current one back to the first.
    pub fn chain(&self) -> impl Iterator<Item = &Actor> {
        std::iter::successors(Some(self), |a| a.act.as_deref())
    }

    /// Whether `self` (an actor) is the one `may_act` names: the same `sub`,
    /// and the same client when `may_act` names one.
    pub fn satisfies(&self, may_act: &Actor) -> bool {
        self.sub == may_act.sub && may_act.client_id.as_ref().is_none_or(|c| self.client_id.as_ref() == Some(c))
    }
}

impl AccessTokenClaims {
    /// A person's token: `sub` is the user, and how they signed in travels along.
    #[allow(clippy::too_many_arguments)]
    pub fn person(
        issuer: &str,
        audience: &str,
        client_id: &str,
        user: &User,
        scope: &Scope,
        auth: &Authentication,
        jti: String,
        issued_at: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            acr: Some(auth.acr.clone()),
            amr: Some(auth.amr.clone()),
            aud: audience.into(),
            auth_time: Some(auth.auth_time),
            client_id: client_id.to_string(),
            exp: expires_at,
            groups: groups(user, scope),
            iat: issued_at,
            iss: issuer.to_string(),
            jti,
            scope: Some(scope.clone()),
            sub: user.id.clone(),
            act: None,
            may_act: None,
            userinfo_claims: Vec::new(),
            cnf: None,
        }
    }

    /// A client's own token (client_credentials): `sub` is the client.
    pub fn client(
        issuer: &str,
        audience: &str,
        client_id: &str,
        scope: &Scope,
        jti: String,
        issued_at: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            acr: None,
            amr: None,
            aud: audience.into(),
            auth_time: None,
            client_id: client_id.to_string(),
            exp: expires_at,
            groups: None,
            iat: issued_at,
            iss: issuer.to_string(),
            jti,
            scope: (!scope.is_empty()).then(|| scope.clone()),
            sub: client_id.to_string(),
            act: None,
            may_act: None,
            userinfo_claims: Vec::new(),
            cnf: None,
        }
    }

    /// Whether `sub` is a client (a client_credentials token, or one
    /// exchanged from it) rather than a person: no one signed in, so no
    /// `auth_time`, which a person's token always carries.
    pub fn is_client_token(&self) -> bool {
        self.sub == self.client_id || self.auth_time.is_none()
    }
}

/// An ID token (OIDC Core §2, §3.1.3.6), with the end-user claims its scope
/// releases. Claims the specification makes optional are optional here, so
/// that any ID token of ours reads (an `id_token_hint` may be old).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The session (OIDC Front- and Back-Channel Logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(flatten)]
    pub profile: StandardClaims,
}

/// The event a logout token carries (OIDC Back-Channel Logout §2.6).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// `events` of a logout token: the back-channel logout event, an empty object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutEvents {
    #[serde(rename = "http://schemas.openid.net/event/backchannel-logout")]
    pub backchannel_logout: BackchannelLogout,
}

/// The back-channel logout event's (empty) object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackchannelLogout {}

/// A logout token (OIDC Back-Channel Logout §2.4): which session of which
/// person ended, for one client. It never has a `nonce`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    pub iss: String,
    pub aud: Audience,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub events: LogoutEvents,
}

/// The end-user claims (OIDC Core §5.1) a scope releases (§5.4), from what
/// the account has; absent values are left out. `groups` is Latchkey's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<crate::Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

impl StandardClaims {
    /// What `scope` releases of `user` (OIDC Core §5.4): `profile` (names,
    /// username, profile and picture URLs, website, gender, birthdate, time
    /// zone, locale, last update), `email` and `phone` (each with its
    /// verified flag, when the account has one), `address`, and `groups`.
    pub fn released(user: &User, scope: &Scope) -> Self {
        Self::released_with(user, scope, &[])
    }

    /// What `scope` releases, and the claims named in `more` (asked for one
    /// by one with the `claims` parameter, OIDC Core §5.5, and consented).
    pub fn released_with(user: &User, scope: &Scope, more: &[String]) -> Self {
        let mut out = Self::default();
        for (granting, names) in SCOPE_CLAIMS {
            if scope.contains(granting) {
                names.iter().for_each(|name| out.add(user, name));
            }
        }
        more.iter().for_each(|name| out.add(user, name));
        out
    }

    /// Sets claim `name` from `user`, if the account has it. A verified
    /// flag goes only with its address or number.
    fn add(&mut self, user: &User, name: &str) {
        let c = &user.claims;
        match name {
            "name" => self.name.clone_from(&c.name),
            "given_name" => self.given_name.clone_from(&c.given_name),
            "family_name" => self.family_name.clone_from(&c.family_name),
            "preferred_username" => self.preferred_username = Some(user.username.clone()),
            "middle_name" => self.middle_name.clone_from(&c.middle_name),
            "nickname" => self.nickname.clone_from(&c.nickname),
            "profile" => self.profile.clone_from(&c.profile),
            "picture" => self.picture.clone_from(&c.picture),
            "website" => self.website.clone_from(&c.website),
            "gender" => self.gender.clone_from(&c.gender),
            "birthdate" => self.birthdate.clone_from(&c.birthdate),
            "zoneinfo" => self.zoneinfo.clone_from(&c.zoneinfo),
            "locale" => self.locale.clone_from(&c.locale),
            "updated_at" => self.updated_at = Some(user.updated_at),
            "email" => self.email.clone_from(&c.email),
            "email_verified" if c.email.is_some() => self.email_verified = Some(c.email_verified),
            "phone_number" => self.phone_number.clone_from(&c.phone_number),
            "phone_number_verified" if c.phone_number.is_some() => {
                self.phone_number_verified = Some(c.phone_number_verified)
            }
            "address" => self.address.clone_from(&c.address),
            "groups" => self.groups = Some(c.groups.clone()),
            _ => {}
        }
    }
}

/// A UserInfo response (OIDC Core §5.3.2): `sub` and the released claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfoClaims {
    #[serde(flatten)]
    pub profile: StandardClaims,
    pub sub: String,
}

/// `groups` when the scope grants it: always an array, empty for an account
/// in no group, so that an app that was granted the scope can tell "no
/// groups" from "not allowed to know".
pub fn groups(user: &User, scope: &Scope) -> Option<Vec<String>> {
    scope.contains("groups").then(|| user.claims.groups.clone())
}

/// The registered claims (RFC 7519 §4.1) a checker of any JWT looks at,
/// read leniently: a claim of the wrong type counts as absent. For tokens
/// from anywhere (`latchkey token inspect`), not for our own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RegisteredClaims {
    #[serde(default, deserialize_with = "lenient")]
    pub iss: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub sub: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub aud: Option<Audience>,
    #[serde(default, deserialize_with = "lenient")]
    pub exp: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub nbf: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub iat: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub jti: Option<String>,
}

/// A value of the wanted type, or `None` for any other JSON.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::UserClaims;

    fn ann(groups: &[&str]) -> User {
        User {
            id: "u-1".into(),
            username: "ann".into(),
            password_hash: None,
            disabled: false,
            claims: UserClaims {
                email: Some("ann@example.com".into()),
                email_verified: true,
                name: Some("Ann".into()),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                ..UserClaims::default()
            },
            created_at: 1,
            updated_at: 2,
        }
    }

    fn auth() -> Authentication {
        Authentication {
            user_id: "u-1".into(),
            auth_time: 1_700_000_000,
            amr: vec!["pwd".into()],
            acr: "urn:latchkey:acr:password".into(),
            sid: "s-1".into(),
        }
    }

    fn scope(s: &str) -> Scope {
        Scope::parse(s).unwrap()
    }

    /// The JSON the token endpoint wrote before these structs, byte for byte.
    #[test]
    fn access_tokens_are_written_as_before() {
        let (now, exp) = (1_700_000_100, 1_700_000_400);
        let s = scope("openid groups");
        let claims = AccessTokenClaims::person(
            "https://id.example",
            "https://api.example",
            "app",
            &ann(&["staff"]),
            &s,
            &auth(),
            "j".into(),
            now,
            exp,
        );
        let before = json!({
            "iss": "https://id.example", "sub": "u-1", "aud": "https://api.example", "client_id": "app",
            "scope": "groups openid", "exp": exp, "iat": now, "jti": "j",
            "auth_time": 1_700_000_000, "acr": "urn:latchkey:acr:password", "amr": ["pwd"], "groups": ["staff"],
        });
        assert_eq!(serde_json::to_string(&claims).unwrap(), serde_json::to_string(&before).unwrap());
        let read: AccessTokenClaims = serde_json::from_value(before).unwrap();
        assert_eq!(read, claims);
        assert!(!read.is_client_token());

        // Without the groups scope: no groups claim at all; with it and no groups: [].
        let no_groups =
            AccessTokenClaims::person("i", "a", "c", &ann(&["staff"]), &scope("openid"), &auth(), "j".into(), 0, 1);
        assert!(serde_json::to_value(&no_groups).unwrap().get("groups").is_none());
        let empty = AccessTokenClaims::person("i", "a", "c", &ann(&[]), &s, &auth(), "j".into(), 0, 1);
        assert_eq!(serde_json::to_value(&empty).unwrap()["groups"], json!([]));

        let client = AccessTokenClaims::client(
            "https://id.example",
            "https://api.example",
            "svc",
            &scope("api:read"),
            "j".into(),
            now,
            exp,
        );
        let before = json!({
            "iss": "https://id.example", "sub": "svc", "aud": "https://api.example", "client_id": "svc",
            "exp": exp, "iat": now, "jti": "j", "scope": "api:read",
        });
        assert_eq!(serde_json::to_value(&client).unwrap(), before, "the same claims (scope now before exp)");
        assert!(client.is_client_token());
        let unscoped = AccessTokenClaims::client("i", "a", "svc", &Scope::default(), "j".into(), 0, 1);
        assert!(serde_json::to_value(&unscoped).unwrap().get("scope").is_none(), "no empty scope claim");
    }

    #[test]
    fn released_claims_follow_the_scope() {
        let user = ann(&["staff", "admins"]);
        let c = StandardClaims::released(&user, &scope("openid groups"));
        assert_eq!(c.groups.as_deref(), Some(&["staff".to_string(), "admins".to_string()][..]));
        assert_eq!(c.email, None);
        assert_eq!(StandardClaims::released(&ann(&[]), &scope("openid groups")).groups, Some(vec![]));
        let c = StandardClaims::released(&user, &scope("openid profile email phone"));
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"name": "Ann", "preferred_username": "ann", "updated_at": 2,
                   "email": "ann@example.com", "email_verified": true}),
            "no phone without a number, no groups without the scope"
        );
    }

    #[test]
    fn id_and_logout_tokens_round_trip() {
        let id = IdTokenClaims {
            acr: Some("a".into()),
            amr: Some(vec!["pwd".into()]),
            at_hash: Some("h".into()),
            aud: "app".into(),
            auth_time: Some(5),
            azp: Some("app".into()),
            exp: 10,
            iat: 5,
            iss: "https://id.example".into(),
            nonce: None,
            sid: Some("s".into()),
            sub: "u-1".into(),
            profile: StandardClaims::released(&ann(&[]), &scope("openid email")),
        };
        let before = json!({
            "iss": "https://id.example", "sub": "u-1", "aud": "app", "azp": "app", "exp": 10, "iat": 5,
            "auth_time": 5, "at_hash": "h", "acr": "a", "amr": ["pwd"], "sid": "s",
            "email": "ann@example.com", "email_verified": true,
        });
        assert_eq!(serde_json::to_string(&id).unwrap(), serde_json::to_string(&before).unwrap());
        let json = serde_json::to_value(&id).unwrap();
        assert!(json.get("nonce").is_none());
        assert_eq!(serde_json::from_value::<IdTokenClaims>(json).unwrap(), id);
        // What a hint needs is there even in a token with only the required claims.
        let minimal: IdTokenClaims =
            serde_json::from_value(json!({"iss": "i", "sub": "s", "aud": ["a", "b"], "exp": 1, "iat": 0})).unwrap();
        assert_eq!((minimal.aud.first(), minimal.sid), (Some("a"), None));

        let logout = LogoutTokenClaims {
            aud: "app".into(),
            events: LogoutEvents::default(),
            exp: 120,
            iat: 0,
            iss: "https://id.example".into(),
            jti: "j".into(),
            sid: Some("s".into()),
            sub: Some("u-1".into()),
        };
        let before = json!({
            "iss": "https://id.example", "aud": "app", "iat": 0, "exp": 120, "jti": "j",
            "sub": "u-1", "sid": "s", "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        });
        assert_eq!(serde_json::to_string(&logout).unwrap(), serde_json::to_string(&before).unwrap());
        assert_eq!(serde_json::from_value::<LogoutTokenClaims>(before).unwrap(), logout);
        // A logout token must carry the back-channel logout event (§2.4).
        let no_event = json!({"iss": "i", "aud": "app", "iat": 0, "exp": 1, "jti": "j", "events": {}});
        assert!(serde_json::from_value::<LogoutTokenClaims>(no_event).is_err());
    }

    #[test]
    fn act_nests_and_may_act_matches() {
        let first = Actor { sub: "svc-b".into(), client_id: None, act: None };
        let now = Actor { sub: "u-9".into(), client_id: Some("svc-c".into()), act: Some(Box::new(first.clone())) };
        let mut claims = AccessTokenClaims::client("i", "a", "svc", &scope("x"), "j".into(), 0, 1);
        claims.act = Some(now.clone());
        claims.may_act = Some(Actor { sub: "svc-d".into(), client_id: None, act: None });
        let v = serde_json::to_value(&claims).unwrap();
        assert_eq!(v["act"], json!({"sub": "u-9", "client_id": "svc-c", "act": {"sub": "svc-b"}}));
        assert_eq!(v["may_act"], json!({"sub": "svc-d"}));
        let read: AccessTokenClaims = serde_json::from_value(v).unwrap();
        assert_eq!(read, claims);
        assert_eq!(now.chain().map(|a| a.sub.as_str()).collect::<Vec<_>>(), ["u-9", "svc-b"]);
        let may =
            |sub: &str, client: Option<&str>| Actor { sub: sub.into(), client_id: client.map(Into::into), act: None };
        assert!(first.satisfies(&may("svc-b", None)));
        assert!(!first.satisfies(&may("svc-x", None)));
        assert!(now.satisfies(&may("u-9", Some("svc-c"))));
        assert!(!now.satisfies(&may("u-9", Some("svc-x"))), "the client must match when may_act names one");
        // Tokens without the claims read as before.
        assert!(
            serde_json::to_value(AccessTokenClaims::client("i", "a", "s", &scope("x"), "j".into(), 0, 1))
                .unwrap()
                .get("act")
                .is_none()
        );
    }

    #[test]
    fn registered_claims_read_anything() {
        let c: RegisteredClaims =
            serde_json::from_value(json!({"iss": 7, "aud": ["x", "y"], "exp": "soon", "nbf": 3, "extra": true}))
                .unwrap();
        assert_eq!(c.iss, None, "a number is no issuer");
        assert_eq!(c.aud, Some(Audience::Many(vec!["x".into(), "y".into()])));
        assert_eq!((c.exp, c.nbf), (None, Some(3)));
        assert!(c.aud.unwrap().contains("y"));
    }

    #[test]
    fn each_scope_releases_its_claims() {
        let mut user = ann(&[]);
        for (name, value) in [
            ("nickname", "Annie"),
            ("picture", "https://example.com/ann.png"),
            ("birthdate", "0000-04-30"),
            ("zoneinfo", "Europe/Berlin"),
            ("locale", "de-DE"),
            ("phone_number", "+49 30 123456"),
            ("address.locality", "Berlin"),
            ("address.country", "DE"),
        ] {
            user.claims.set(name, value).unwrap();
        }
        let profile = serde_json::to_value(StandardClaims::released(&user, &scope("openid profile"))).unwrap();
        assert_eq!(profile["nickname"], "Annie");
        assert_eq!(profile["picture"], "https://example.com/ann.png");
        assert_eq!(
            (profile["birthdate"].clone(), profile["zoneinfo"].clone()),
            (json!("0000-04-30"), json!("Europe/Berlin"))
        );
        assert_eq!(profile["locale"], "de-DE");
        for withheld in ["email", "phone_number", "address", "website"] {
            assert!(profile.get(withheld).is_none(), "{withheld}: {profile}");
        }
        let other = serde_json::to_value(StandardClaims::released(&user, &scope("openid phone address"))).unwrap();
        assert_eq!(other["phone_number"], "+4930123456");
        assert_eq!(other["phone_number_verified"], false);
        assert_eq!(other["address"], json!({"locality": "Berlin", "country": "DE"}));
        assert!(other.get("nickname").is_none(), "{other}");
    }
}
