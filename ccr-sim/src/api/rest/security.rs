//! Security on the REST layer: authentication (401), authorization (403) and the `_security`
//! endpoints (`_authenticate`, `_has_privileges`, API keys, cross-cluster API keys).
//!
//! Sources: `AuthenticationService`/`AuthenticatorChain` and `DefaultAuthenticationFailureHandler`
//! (401 texts and `WWW-Authenticate`), `ApiKeyService` (API key failures), `AuthorizationService`
//! and `AuthorizationDenialMessages` (403 texts), `RestHasPrivilegesAction`,
//! `RestCreateApiKeyAction`, `RestCreateCrossClusterApiKeyAction`, `RestGetApiKeyAction`,
//! `RestInvalidateApiKeyAction`, `RestAuthenticateAction`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{Param, Route, RouteKind};
use crate::api::reply::{Reply, Req};
use crate::error::EsError;
use crate::util::{base64_decode, base64_encode, parse_body_object, TimeValue};
use crate::version::Version;
use crate::world::model::{Cluster, World};
use crate::world::security::{
    self, ApiKey, KeyType, Permission, Principal, RoleDescriptor, Security, AUTHENTICATE,
    HAS_PRIVILEGES, LIST_PRIVILEGES,
};

/// The `_security` endpoints (and `POST /_nodes/reload_secure_settings`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SecurityRoute {
    Authenticate,
    HasPrivileges,
    UserPrivileges,
    CreateApiKey,
    CreateCrossClusterApiKey,
    UpdateCrossClusterApiKey(String),
    GetApiKey,
    InvalidateApiKey,
    ReloadSecureSettings,
}

/// `POST /_security/api_key`.
const CREATE_API_KEY: &[Param] = &[Param::new("refresh")];
/// `GET /_security/api_key` (8.x adds `with_limited_by`, `active_only`, `with_profile_uid`).
const GET_API_KEY: &[Param] = &[
    Param::new("id"),
    Param::new("name"),
    Param::boolean("owner"),
    Param::new("realm_name"),
    Param::new("username"),
    Param::boolean("with_limited_by").since(8, 5),
    Param::boolean("active_only").since(8, 10),
    Param::boolean("with_profile_uid").since(8, 14),
];
/// `PUT /_security/cross_cluster/api_key/{id}`.
const UPDATE_CROSS_CLUSTER_API_KEY: &[Param] = &[Param::new("id")];
/// `POST /_nodes/{nodeId}/reload_secure_settings`.
const RELOAD_SECURE_SETTINGS: &[Param] = &[Param::new("nodeId"), Param::new("timeout")];
/// `_has_privileges` for a named user.
const HAS_PRIVILEGES_PARAMS: &[Param] = &[Param::new("username")];

/// The query parameters each security route's handler consumes, and whether it reads a body.
fn rest_layer(route: &SecurityRoute) -> (&'static [&'static [Param]], bool) {
    use SecurityRoute as S;
    match route {
        S::Authenticate => (&[], false),
        S::HasPrivileges => (&[HAS_PRIVILEGES_PARAMS], true),
        S::UserPrivileges => (&[], false),
        S::CreateApiKey => (&[CREATE_API_KEY], true),
        S::CreateCrossClusterApiKey => (&[], true),
        S::UpdateCrossClusterApiKey(_) => (&[UPDATE_CROSS_CLUSTER_API_KEY], true),
        S::GetApiKey => (&[GET_API_KEY], false),
        S::InvalidateApiKey => (&[], true),
        S::ReloadSecureSettings => (&[RELOAD_SECURE_SETTINGS], true),
    }
}

fn sr(kind: SecurityRoute, template: &'static str, action: &'static str, mutating: bool) -> Route {
    let (params, reads_body) = rest_layer(&kind);
    Route {
        kind: RouteKind::Security(kind),
        template,
        action,
        grant: "",
        mutating,
        params,
        reads_body,
    }
}

/// The security routes ES registers on version `v` (`_xpack/security` on 6.x and 7.x,
/// `_security` from 7.0; API keys from 7.0, cross-cluster keys from 8.10).
pub(crate) fn route(req: &Req, v: Version) -> Option<Route> {
    use SecurityRoute as S;
    let s: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    let get = m == "GET";
    let (modern, xpack) = (v.major >= 7, v.major < 8);
    let rest: &[&str] = match s.as_slice() {
        ["_security", rest @ ..] if modern => rest,
        ["_xpack", "security", rest @ ..] if xpack => rest,
        ["_nodes", "reload_secure_settings"] | ["_nodes", _, "reload_secure_settings"]
            if m == "POST" =>
        {
            return Some(sr(
                S::ReloadSecureSettings,
                "POST /_nodes/reload_secure_settings",
                "cluster:admin/nodes/reload_secure_settings",
                true,
            ))
        }
        _ => return None,
    };
    match (rest, m) {
        (["_authenticate"], _) if get => Some(sr(
            S::Authenticate,
            "GET /_security/_authenticate",
            AUTHENTICATE,
            false,
        )),
        (["user", "_has_privileges"] | ["user", _, "_has_privileges"], "GET" | "POST") => Some(sr(
            S::HasPrivileges,
            "GET /_security/user/_has_privileges",
            HAS_PRIVILEGES,
            false,
        )),
        (["user", "_privileges"], "GET") => Some(sr(
            S::UserPrivileges,
            "GET /_security/user/_privileges",
            LIST_PRIVILEGES,
            false,
        )),
        (["api_key"], "POST" | "PUT") if modern => Some(sr(
            S::CreateApiKey,
            "POST /_security/api_key",
            "cluster:admin/xpack/security/api_key/create",
            true,
        )),
        (["api_key"], "GET") if modern => Some(sr(
            S::GetApiKey,
            "GET /_security/api_key",
            "cluster:admin/xpack/security/api_key/get",
            false,
        )),
        (["api_key"], "DELETE") if modern => Some(sr(
            S::InvalidateApiKey,
            "DELETE /_security/api_key",
            "cluster:admin/xpack/security/api_key/invalidate",
            true,
        )),
        (["cross_cluster", "api_key"], "POST") if v.at_least(8, 10) => Some(sr(
            S::CreateCrossClusterApiKey,
            "POST /_security/cross_cluster/api_key",
            "cluster:admin/xpack/security/cross_cluster/api_key/create",
            true,
        )),
        (["cross_cluster", "api_key", id], "PUT") if v.at_least(8, 10) => Some(sr(
            S::UpdateCrossClusterApiKey(id.to_string()),
            "PUT /_security/cross_cluster/api_key/{id}",
            "cluster:admin/xpack/security/cross_cluster/api_key/update",
            true,
        )),
        _ => None,
    }
}

/// The `WWW-Authenticate` challenges of a 401: Basic only before 8.0 (API keys and tokens
/// need TLS there), Basic, Bearer and ApiKey from 8.0; the comma before `charset` from 8.15
/// (elastic/elasticsearch PR #110906).
fn www_authenticate(v: Version) -> Value {
    let basic = if v.at_least(8, 15) {
        "Basic realm=\"security\", charset=\"UTF-8\""
    } else {
        "Basic realm=\"security\" charset=\"UTF-8\""
    };
    if v.major >= 8 {
        json!([basic, "Bearer realm=\"security\"", "ApiKey"])
    } else {
        json!(basic)
    }
}

fn unauthenticated(v: Version, reason: String) -> EsError {
    let mut e = EsError::new(401, "security_exception", reason);
    e.header = Some(Box::new(www_authenticate(v)));
    e
}

/// The 401 of a failed API key (`AuthenticatorChain`): the generic text, with the key's failure
/// in `additional_unsuccessful_credentials` from 8.0.
fn api_key_failed(v: Version, why: String) -> EsError {
    let mut e = EsError::new(
        401,
        "security_exception",
        "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
    );
    if v.major >= 8 {
        e = e.meta(
            "additional_unsuccessful_credentials",
            format!("API key: {why}"),
        );
    }
    e.header = Some(Box::new(www_authenticate(v)));
    e
}

/// Authenticates a request: None when the cluster has no security.
pub(crate) fn authenticate(
    c: &Cluster,
    req: &Req,
    now_ms: u64,
) -> Result<Option<Principal>, EsError> {
    let Some(sec) = &c.security else {
        return Ok(None);
    };
    let v = c.version;
    let missing = || {
        unauthenticated(
            v,
            format!(
                "missing authentication credentials for REST request [{}]",
                req.uri
            ),
        )
    };
    let Some(auth) = req.authorization.as_deref() else {
        return Err(missing());
    };
    let (scheme, cred) = auth.split_once(' ').unwrap_or((auth, ""));
    let decoded = base64_decode(cred.trim())
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let (a, b) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => match sec.find_user(a).filter(|u| u.password == b) {
            Some(u) => Ok(Some(Principal {
                user: u.name.clone(),
                roles: u.roles.clone(),
                api_key: None,
            })),
            None => Err(unauthenticated(
                v,
                format!(
                    "unable to authenticate user [{a}] for REST request [{}]",
                    req.uri
                ),
            )),
        },
        "apikey" => {
            let Some(k) = sec.api_keys.iter().find(|k| k.id == a) else {
                return Err(api_key_failed(
                    v,
                    format!("unable to find apikey with id {a}"),
                ));
            };
            // ApiKeyService.validateApiKeyCredentials: invalidated, then the secret, then the
            // type (a terminating failure: its own text), then the expiry.
            if k.invalidated {
                return Err(api_key_failed(
                    v,
                    format!("api key [{a}] has been invalidated"),
                ));
            }
            if k.key != b {
                return Err(api_key_failed(
                    v,
                    format!("invalid credentials for API key [{a}]"),
                ));
            }
            if k.kind != KeyType::Rest {
                return Err(unauthenticated(
                    v,
                    format!(
                        "authentication expected API key type of [rest], but API key [{a}] has type [{}]",
                        k.kind.as_str()
                    ),
                ));
            }
            if !k.usable(now_ms) {
                return Err(api_key_failed(v, "api key is expired".into()));
            }
            Ok(Some(Principal {
                user: k.owner.clone(),
                roles: Vec::new(),
                api_key: Some((k.id.clone(), k.name.clone())),
            }))
        }
        _ => Err(missing()),
    }
}

/// The index names a route acts on, for index authorization.
fn route_index(kind: &RouteKind) -> Option<&str> {
    use RouteKind as K;
    match kind {
        K::CreateIndex(i)
        | K::DeleteIndex(i)
        | K::GetIndex(i)
        | K::CloseIndex(i)
        | K::OpenIndex(i)
        | K::PutSettings(i)
        | K::Follow(i)
        | K::Unfollow(i)
        | K::ForgetFollower(i)
        | K::IndexDoc { index: i, .. }
        | K::GetDoc { index: i, .. }
        | K::DeleteDoc { index: i, .. } => Some(i),
        K::GetSettings(i)
        | K::Count(i)
        | K::Stats(i)
        | K::Bulk(i)
        | K::Search(i)
        | K::Refresh(i)
        | K::CatIndices(i) => i.as_deref(),
        _ => None,
    }
}

/// "user [u] with effective roles [..]" (per version) or "API key id [..] of user [..]".
fn who(v: Version, p: &Principal, perm: &Permission) -> String {
    if let Some((id, _)) = &p.api_key {
        return format!("API key id [{id}] of user [{}]", p.user);
    }
    let mut s = format!("user [{}]", p.user);
    if v.at_least(8, 5) {
        s.push_str(&format!(
            " with effective roles [{}]",
            perm.effective.join(",")
        ));
        if !perm.missing.is_empty() {
            s.push_str(&format!(
                " (assigned roles [{}] were not found)",
                perm.missing.join(",")
            ));
        }
    } else if v.at_least(7, 13) {
        s.push_str(&format!(" with roles [{}]", p.roles.join(",")));
    }
    s
}

/// The 403 of `AuthorizationDenialMessages.actionDenied`: before 7.12 only the action and the
/// user; from 7.12 the denied indices (when resolved) and the privileges that grant the action;
/// roles from 7.13 (`with roles`), effective roles from 8.5 (PR #89680).
fn denied(
    c: &Cluster,
    p: &Principal,
    perm: &Permission,
    route: &Route,
    indices: &[String],
) -> EsError {
    let v = c.version;
    let action = route.action;
    let mut msg = format!("action [{action}] is unauthorized for {}", who(v, p, perm));
    if v.at_least(7, 12) {
        if !indices.is_empty() {
            msg.push_str(&format!(" on indices [{}]", indices.join(",")));
        }
        let grants = security::privileges_granting(action, v);
        if grants.is_empty() && !route.grant.is_empty() {
            msg.push_str(&format!(", this action is granted by the {}", route.grant));
        } else if !grants.is_empty() {
            let kind = if security::is_cluster_action(action) {
                "cluster"
            } else {
                "index"
            };
            msg.push_str(&format!(
                ", this action is granted by the {kind} privileges [{}]",
                grants.join(",")
            ));
        }
    }
    EsError::new(403, "security_exception", msg)
}

/// Authorizes a route for a principal as the RBAC engine does: cluster actions against the
/// cluster privileges, index actions first against any index (no index names in the message
/// when nothing could grant it), then against each concrete index named (wildcards resolve to
/// the authorized indices only, so they are never denied).
pub(crate) fn authorize(
    c: &Cluster,
    p: &Principal,
    route: &Route,
    req: &Req,
) -> Result<(), EsError> {
    let Some(sec) = &c.security else {
        return Ok(());
    };
    let v = c.version;
    let action = route.action;
    if action == AUTHENTICATE || action == HAS_PRIVILEGES || action == LIST_PRIVILEGES {
        return Ok(());
    }
    let perm = sec.permission(p);
    if security::is_cluster_action(action) {
        if perm.cluster(action, v) || owns_keys(sec, p, route, req) {
            return Ok(());
        }
        return Err(denied(c, p, &perm, route, &[]));
    }
    if !perm.index_anywhere(action, v) {
        return Err(denied(c, p, &perm, route, &[]));
    }
    let Some(expr) = route_index(&route.kind) else {
        return Ok(());
    };
    let refused: Vec<String> = expr
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty() && !i.contains('*') && !i.starts_with('-') && *i != "_all")
        .filter(|i| !perm.index(action, i, v))
        .map(String::from)
        .collect();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(denied(c, p, &perm, route, &refused))
    }
}

/// `manage_own_api_key` (ManageOwnApiKeyClusterPrivilege): get and invalidate of the caller's
/// own keys (`owner=true`, or its own user name).
fn owns_keys(sec: &Security, p: &Principal, route: &Route, req: &Req) -> bool {
    let own = match &route.kind {
        RouteKind::Security(SecurityRoute::GetApiKey) => {
            req.flag("owner") || req.q("username") == Some(p.user.as_str())
        }
        RouteKind::Security(SecurityRoute::InvalidateApiKey) => parse_body_object(&req.body, false)
            .ok()
            .flatten()
            .is_some_and(|b| {
                b.get("owner").and_then(Value::as_bool) == Some(true)
                    || b.get("username").and_then(Value::as_str) == Some(p.user.as_str())
            }),
        _ => false,
    };
    own && sec.permission(p).sets.iter().all(|set| {
        set.iter()
            .any(|d| d.cluster.iter().any(|c| c == "manage_own_api_key"))
    })
}

fn security_disabled(c: &Cluster) -> EsError {
    // Reconstructed: ES answers the security APIs of a cluster without security with this text.
    EsError::new(
        500,
        "exception",
        format!(
            "Security must be explicitly enabled when using a [{}] license. Enable security by setting [xpack.security.enabled] to [true] in the elasticsearch.yml file and restart the node.",
            c.license.kind
        ),
    )
}

/// Handles a security route.
pub(crate) fn dispatch(
    w: &mut World,
    ci: usize,
    req: &Req,
    route: &SecurityRoute,
    principal: Option<&Principal>,
) -> Result<Reply, EsError> {
    use SecurityRoute as S;
    let now = w.clock.epoch_ms();
    let c = &mut w.clusters[ci];
    // The reload needs no security; the `_security` APIs answer only with it.
    let p = match (route, principal) {
        (S::ReloadSecureSettings, _) => return super::cluster::reload_secure_settings(c),
        (_, Some(p)) if c.security.is_some() => p,
        _ => return Err(security_disabled(c)),
    };
    match route {
        S::Authenticate => Ok(Reply::json(authenticate_body(c, p))),
        S::HasPrivileges => has_privileges(c, p, req),
        S::UserPrivileges => user_privileges(c, p),
        S::CreateApiKey => create_api_key(c, p, req, now),
        S::CreateCrossClusterApiKey => create_cross_cluster_api_key(c, p, req, now),
        S::UpdateCrossClusterApiKey(id) => update_cross_cluster_api_key(c, p, id, req, now),
        S::GetApiKey => get_api_keys(c, p, req, now),
        S::InvalidateApiKey => invalidate_api_keys(c, p, req),
        S::ReloadSecureSettings => super::cluster::reload_secure_settings(c),
    }
}

fn realm_of(p: &Principal) -> Value {
    if p.api_key.is_some() {
        json!({"name": "_es_api_key", "type": "_es_api_key"})
    } else {
        json!({"name": "default_native", "type": "native"})
    }
}

/// `GET /_security/_authenticate` (RestAuthenticateAction, `Authentication.toXContent`).
fn authenticate_body(c: &Cluster, p: &Principal) -> Value {
    let v = c.version;
    let mut m = Map::new();
    m.insert("username".into(), p.user.clone().into());
    m.insert("roles".into(), json!(p.roles));
    m.insert("full_name".into(), Value::Null);
    m.insert("email".into(), Value::Null);
    m.insert("metadata".into(), json!({}));
    m.insert("enabled".into(), true.into());
    m.insert("authentication_realm".into(), realm_of(p));
    m.insert("lookup_realm".into(), realm_of(p));
    // elastic/elasticsearch PR #61247 (backport #61411, 7.10).
    if v.at_least(7, 10) {
        let kind = if p.api_key.is_some() {
            "api_key"
        } else {
            "realm"
        };
        m.insert("authentication_type".into(), kind.into());
    }
    if let Some((id, name)) = &p.api_key {
        if v.at_least(8, 5) {
            m.insert("api_key".into(), json!({"id": id, "name": name}));
        }
    }
    Value::Object(m)
}

fn string_list(parser: &str, key: &str, v: &Value) -> Result<Vec<String>, EsError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(String::from)
                    .ok_or_else(|| crate::world::model::field_error(parser, key, i))
            })
            .collect(),
        other => Err(crate::world::model::field_error(parser, key, other)),
    }
}

fn unknown_privilege(kind: &str, name: &str) -> EsError {
    EsError::illegal_argument(format!(
        "unknown {kind} privilege [{name}]. a privilege must be either one of the predefined {kind} privilege names or a pattern over one of the available {kind} actions"
    ))
}

/// `GET|POST /_security/user/_has_privileges` (RestHasPrivilegesAction): the caller's own
/// privileges, by requested name.
fn has_privileges(c: &Cluster, p: &Principal, req: &Req) -> Result<Reply, EsError> {
    const P: &str = "has_privileges_request";
    let v = c.version;
    let sec = c.security.as_ref().ok_or_else(|| security_disabled(c))?;
    let body = parse_body_object(&req.body, true)?.unwrap_or_default();
    let (mut cluster, mut index, mut application) = (Vec::new(), Vec::new(), Vec::new());
    for (k, val) in &body {
        match k.as_str() {
            "cluster" => cluster = string_list(P, k, val)?,
            "index" => {
                for entry in val
                    .as_array()
                    .ok_or_else(|| crate::world::model::field_error(P, k, val))?
                {
                    let names = string_list(P, "names", &entry["names"])?;
                    let privileges = string_list(P, "privileges", &entry["privileges"])?;
                    index.push((names, privileges));
                }
            }
            "application" => {
                application = val.as_array().cloned().unwrap_or_default();
            }
            _ => {
                return Err(EsError::parse(format!(
                    "failed to parse privilege check for [{}]. unexpected field [{k}]",
                    p.user
                )))
            }
        }
    }
    if cluster.is_empty() && index.is_empty() && application.is_empty() {
        return Err(EsError::validation(&[
            "must specify at least one privilege".into(),
        ]));
    }
    for name in &cluster {
        if !security::is_known_privilege(name, true) {
            return Err(unknown_privilege("cluster", name));
        }
    }
    for (_, privileges) in &index {
        for name in privileges {
            if !security::is_known_privilege(name, false) {
                return Err(unknown_privilege("index", name));
            }
        }
    }
    let perm = sec.permission(p);
    let mut all = true;
    let mut cluster_out = Map::new();
    for name in &cluster {
        let held = security::cluster_privilege_held(&perm, name, v);
        all &= held;
        cluster_out.insert(name.clone(), held.into());
    }
    let mut index_out: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for (names, privileges) in &index {
        for n in names {
            let entry = index_out.entry(n.clone()).or_default();
            for priv_name in privileges {
                let held = security::index_privilege_held(&perm, priv_name, n, v);
                all &= held;
                entry.insert(priv_name.clone(), held.into());
            }
        }
    }
    let index_json: Map<String, Value> = index_out
        .into_iter()
        .map(|(k, m)| (k, Value::Object(m)))
        .collect();
    Ok(Reply::json(json!({
        "username": p.user,
        "has_all_requested": all && application.is_empty(),
        "cluster": cluster_out,
        "index": index_json,
        "application": {},
    })))
}

/// `GET /_security/user/_privileges` (RestGetUserPrivilegesAction, `GetUserPrivilegesResponse#toXContent`):
/// the union of the caller's roles; `remote_indices` from 8.8. For an API key ES refuses (the key's own
/// limits cannot be listed as one role); the text is *reconstructed*.
fn user_privileges(c: &Cluster, p: &Principal) -> Result<Reply, EsError> {
    let sec = c.security.as_ref().ok_or_else(|| security_disabled(c))?;
    if p.api_key.is_some() {
        return Err(EsError::illegal_argument(
            "cannot retrieve privileges for API keys; use the get API key information API instead",
        ));
    }
    let roles = sec
        .permission(p)
        .sets
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut cluster: Vec<String> = roles.iter().flat_map(|d| d.cluster.clone()).collect();
    cluster.sort();
    cluster.dedup();
    let indices: Vec<Value> = roles
        .iter()
        .flat_map(|d| d.indices.iter())
        .map(|i| json!({"names": i.names, "privileges": i.privileges, "allow_restricted_indices": false}))
        .collect();
    let mut out = json!({
        "cluster": cluster,
        "global": [],
        "indices": indices,
        "applications": [],
        "run_as": [],
    });
    if c.version.at_least(8, 8) {
        out["remote_indices"] = roles
            .iter()
            .flat_map(|d| d.remote_indices.iter())
            .map(|i| json!({"names": i.names, "privileges": i.privileges, "allow_restricted_indices": false, "clusters": i.clusters}))
            .collect();
    }
    Ok(Reply::json(out))
}

fn parse_expiration(parser: &str, v: &Value, now: u64) -> Result<Option<u64>, EsError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => {
            let t = TimeValue::parse("expiration", s).map_err(|e| {
                EsError::x_content(format!(
                    "[1:2] [{parser}] failed to parse field [expiration]"
                ))
                .caused_by(e)
            })?;
            Ok(Some(now + t.millis().max(0) as u64))
        }
        other => Err(crate::world::model::field_error(
            parser,
            "expiration",
            other,
        )),
    }
}

fn role_descriptor(parser: &str, v: &Value) -> Result<RoleDescriptor, EsError> {
    let mut d = RoleDescriptor::default();
    if let Some(c) = v.get("cluster") {
        d.cluster = string_list(parser, "cluster", c)?;
    }
    for entry in v
        .get("indices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        d.indices.push(security::IndicesPrivileges {
            names: string_list(parser, "names", &entry["names"])?,
            privileges: string_list(parser, "privileges", &entry["privileges"])?,
        });
    }
    for entry in v
        .get("remote_indices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        d.remote_indices.push(security::RemoteIndicesPrivileges {
            clusters: string_list(parser, "clusters", &entry["clusters"])?,
            names: string_list(parser, "names", &entry["names"])?,
            privileges: string_list(parser, "privileges", &entry["privileges"])?,
        });
    }
    Ok(d)
}

/// The caller's roles, which limit a key it creates (for a key creating a key: its own limit).
fn owner_limit(sec: &Security, p: &Principal) -> Vec<RoleDescriptor> {
    sec.permission(p)
        .sets
        .into_iter()
        .next()
        .unwrap_or_default()
}

fn key_response(v: Version, k: &ApiKey) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), k.id.clone().into());
    m.insert("name".into(), k.name.clone().into());
    if let Some(e) = k.expiration_ms {
        m.insert("expiration".into(), e.into());
    }
    m.insert("api_key".into(), k.key.clone().into());
    if v.at_least(7, 16) {
        m.insert(
            "encoded".into(),
            base64_encode(format!("{}:{}", k.id, k.key).as_bytes()).into(),
        );
    }
    Value::Object(m)
}

/// `POST /_security/api_key` (RestCreateApiKeyAction).
fn create_api_key(c: &mut Cluster, p: &Principal, req: &Req, now: u64) -> Result<Reply, EsError> {
    const P: &str = "api_key_request";
    let v = c.version;
    let seed = c.name.clone();
    let body = parse_body_object(&req.body, true)?.unwrap_or_default();
    let sec = c
        .security
        .as_mut()
        .ok_or_else(|| EsError::new(500, "exception", "security"))?;
    let (mut name, mut expiration, mut descriptors, mut metadata) =
        (None, None, BTreeMap::new(), json!({}));
    for (k, val) in &body {
        match k.as_str() {
            "name" => {
                name = Some(
                    val.as_str()
                        .map(String::from)
                        .ok_or_else(|| crate::world::model::field_error(P, k, val))?,
                )
            }
            "expiration" => expiration = parse_expiration(P, val, now)?,
            "role_descriptors" => {
                for (rn, rd) in val.as_object().into_iter().flatten() {
                    descriptors.insert(rn.clone(), role_descriptor(P, rd)?);
                }
            }
            "metadata" if v.at_least(7, 13) => metadata = val.clone(),
            _ => {
                return Err(EsError::x_content(format!(
                    "[1:2] [{P}] unknown field [{k}]"
                )))
            }
        }
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Err(EsError::validation(&["api key name is required".into()]));
    };
    let limited_by = owner_limit(sec, p);
    let (id, key) = sec.next_key(&seed);
    let k = ApiKey {
        id,
        key,
        name,
        owner: p.user.clone(),
        kind: KeyType::Rest,
        creation_ms: now,
        expiration_ms: expiration,
        invalidated: false,
        role_descriptors: descriptors,
        limited_by,
        access: Value::Null,
        metadata,
    };
    let out = key_response(v, &k);
    sec.api_keys.push(k);
    cap_keys(sec);
    Ok(Reply::json(out))
}

/// Keeps the key store bounded: the oldest invalidated keys go first.
fn cap_keys(sec: &mut Security) {
    const MAX_KEYS: usize = 10_000;
    while sec.api_keys.len() > MAX_KEYS {
        let at = sec.api_keys.iter().position(|k| k.invalidated).unwrap_or(0);
        sec.api_keys.remove(at);
    }
}

/// `POST /_security/cross_cluster/api_key` (RestCreateCrossClusterApiKeyAction, 8.10+):
/// refused for callers authenticated by an API key (TransportCreateCrossClusterApiKeyAction).
fn create_cross_cluster_api_key(
    c: &mut Cluster,
    p: &Principal,
    req: &Req,
    now: u64,
) -> Result<Reply, EsError> {
    const P: &str = "cross_cluster_api_key_request";
    let v = c.version;
    let seed = c.name.clone();
    let body = parse_body_object(&req.body, true)?.unwrap_or_default();
    let (mut name, mut expiration, mut access, mut metadata) = (None, None, None, json!({}));
    for (k, val) in &body {
        match k.as_str() {
            "name" => {
                name = Some(
                    val.as_str()
                        .map(String::from)
                        .ok_or_else(|| crate::world::model::field_error(P, k, val))?,
                )
            }
            "expiration" => expiration = parse_expiration(P, val, now)?,
            "access" => access = Some(parse_access(P, val)?),
            "metadata" => metadata = val.clone(),
            _ => {
                return Err(EsError::x_content(format!(
                    "[1:2] [{P}] unknown field [{k}]"
                )))
            }
        }
    }
    let Some(access) = access else {
        return Err(EsError::x_content("[1:2] Required [access]"));
    };
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Err(EsError::validation(&["api key name is required".into()]));
    };
    if p.api_key.is_some() {
        return Err(EsError::illegal_argument(
            "authentication via API key not supported: An API key cannot be used to create a cross-cluster API key",
        ));
    }
    let sec = c
        .security
        .as_mut()
        .ok_or_else(|| EsError::new(500, "exception", "security"))?;
    let (id, key) = sec.next_key(&seed);
    let k = ApiKey {
        id,
        key,
        name,
        owner: p.user.clone(),
        kind: KeyType::CrossCluster,
        creation_ms: now,
        expiration_ms: expiration,
        invalidated: false,
        role_descriptors: BTreeMap::new(),
        limited_by: Vec::new(),
        access,
        metadata,
    };
    let out = key_response(v, &k);
    sec.api_keys.push(k);
    cap_keys(sec);
    Ok(Reply::json(out))
}

fn parse_access(parser: &str, val: &Value) -> Result<Value, EsError> {
    let Value::Object(a) = val else {
        return Err(crate::world::model::field_error(parser, "access", val));
    };
    for (ak, av) in a {
        if ak != "search" && ak != "replication" {
            return Err(EsError::x_content(format!(
                "[1:2] [access] unknown field [{ak}]"
            )));
        }
        for e in av.as_array().into_iter().flatten() {
            string_list("access", "names", &e["names"])?;
        }
    }
    let empty = |k: &str| val[k].as_array().map_or(true, |a| a.is_empty());
    if empty("search") && empty("replication") {
        return Err(EsError::illegal_argument(
            "must specify non-empty access for either [search] or [replication]",
        ));
    }
    Ok(val.clone())
}

/// `PUT /_security/cross_cluster/api_key/{id}` (8.10+): replaces `access` (and `metadata`,
/// `expiration`) of a key the caller owns; `{"updated": true}` (false when nothing changed).
/// Only the owner user may update (TransportBaseUpdateApiKeyAction).
fn update_cross_cluster_api_key(
    c: &mut Cluster,
    p: &Principal,
    id: &str,
    req: &Req,
    now: u64,
) -> Result<Reply, EsError> {
    const P: &str = "update_cross_cluster_api_key_request";
    let body = parse_body_object(&req.body, false)?.unwrap_or_default();
    let (mut access, mut metadata, mut expiration) = (None, None, None);
    for (k, val) in &body {
        match k.as_str() {
            "access" => access = Some(parse_access(P, val)?),
            "metadata" => metadata = Some(val.clone()),
            "expiration" => expiration = Some(parse_expiration(P, val, now)?),
            _ => {
                return Err(EsError::x_content(format!(
                    "[1:2] [{P}] unknown field [{k}]"
                )))
            }
        }
    }
    if p.api_key.is_some() {
        return Err(EsError::illegal_argument(
            "authentication via API key not supported: only the owner user can update an API key",
        ));
    }
    let sec = c
        .security
        .as_mut()
        .ok_or_else(|| EsError::new(500, "exception", "security"))?;
    // Reconstructed: ApiKeyService's text for a key the caller does not own or that is gone.
    let not_found = || {
        EsError::resource_not_found(format!(
            "no API key owned by requesting user found for ID [{id}]"
        ))
    };
    let k = sec
        .api_keys
        .iter_mut()
        .find(|k| k.id == id && k.owner == p.user && !k.invalidated)
        .ok_or_else(not_found)?;
    if k.kind != KeyType::CrossCluster {
        return Err(EsError::illegal_argument(format!(
            "cannot update API key of type [{}] while expected type is [cross_cluster]",
            k.kind.as_str()
        )));
    }
    let mut updated = false;
    if let Some(a) = access {
        updated |= k.access != a;
        k.access = a;
    }
    if let Some(m) = metadata {
        updated |= k.metadata != m;
        k.metadata = m;
    }
    if let Some(e) = expiration {
        updated |= k.expiration_ms != e;
        k.expiration_ms = e;
    }
    Ok(Reply::json(json!({ "updated": updated })))
}

/// The role descriptor ES derives from a cross-cluster key's `access` (CrossClusterApiKeyRoleDescriptorBuilder).
fn cross_cluster_descriptor(access: &Value) -> Value {
    let mut cluster = Vec::new();
    let mut indices = Vec::new();
    if let Some(s) = access["search"].as_array().filter(|a| !a.is_empty()) {
        cluster.push("cross_cluster_search");
        for e in s {
            indices.push(json!({"names": e["names"], "privileges": ["read", "read_cross_cluster", "view_index_metadata"], "allow_restricted_indices": false}));
        }
    }
    if let Some(r) = access["replication"].as_array().filter(|a| !a.is_empty()) {
        cluster.push("cross_cluster_replication");
        for e in r {
            indices.push(json!({"names": e["names"], "privileges": ["cross_cluster_replication", "cross_cluster_replication_internal"], "allow_restricted_indices": false}));
        }
    }
    json!({"cross_cluster": {"cluster": cluster, "indices": indices, "applications": [], "run_as": [], "metadata": {}, "transient_metadata": {"enabled": true}}})
}

fn key_info(v: Version, k: &ApiKey) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), k.id.clone().into());
    m.insert("name".into(), k.name.clone().into());
    if v.at_least(8, 10) {
        m.insert("type".into(), k.kind.as_str().into());
    }
    m.insert("creation".into(), k.creation_ms.into());
    if let Some(e) = k.expiration_ms {
        m.insert("expiration".into(), e.into());
    }
    m.insert("invalidated".into(), k.invalidated.into());
    m.insert("username".into(), k.owner.clone().into());
    m.insert("realm".into(), "default_native".into());
    if v.at_least(7, 13) {
        m.insert("metadata".into(), k.metadata.clone());
    }
    if v.at_least(8, 5) {
        let rd = if k.kind == KeyType::CrossCluster {
            cross_cluster_descriptor(&k.access)
        } else {
            serde_json::to_value(&k.role_descriptors).unwrap_or_default()
        };
        m.insert("role_descriptors".into(), rd);
    }
    if k.kind == KeyType::CrossCluster {
        let mut access = k.access.clone();
        if let Value::Object(a) = &mut access {
            for entries in a.values_mut() {
                for e in entries.as_array_mut().into_iter().flatten() {
                    if let Value::Object(e) = e {
                        e.entry("allow_restricted_indices").or_insert(false.into());
                    }
                }
            }
        }
        m.insert("access".into(), access);
    }
    Value::Object(m)
}

/// Keys matching `id`, `name` (with `*` wildcards), `username` and `owner`.
fn matching<'a>(
    sec: &'a Security,
    p: &Principal,
    id: Option<&str>,
    name: Option<&str>,
    username: Option<&str>,
    owner: bool,
) -> impl Iterator<Item = &'a ApiKey> {
    let user = p.user.clone();
    let (id, name, username) = (
        id.map(String::from),
        name.map(String::from),
        username.map(String::from),
    );
    sec.api_keys.iter().filter(move |k| {
        id.as_deref().map_or(true, |i| k.id == i)
            && name
                .as_deref()
                .map_or(true, |n| crate::util::wildcard_match(n, &k.name))
            && username.as_deref().map_or(true, |u| k.owner == u)
            && (!owner || k.owner == user)
    })
}

/// `GET /_security/api_key` (RestGetApiKeyAction). `active_only` leaves out invalidated and expired keys
/// ("neither invalidated, nor expired at query time", the Get API key information API docs).
fn get_api_keys(c: &Cluster, p: &Principal, req: &Req, now: u64) -> Result<Reply, EsError> {
    let v = c.version;
    let sec = c.security.as_ref().ok_or_else(|| security_disabled(c))?;
    let owner = req.flag("owner");
    if owner && (req.q("username").is_some() || req.q("realm_name").is_some()) {
        return Err(EsError::validation(&[
            "username or realm name must not be specified when retrieving owned API keys".into(),
        ]));
    }
    let active_only = v.at_least(8, 10) && req.flag("active_only");
    let keys: Vec<Value> = matching(sec, p, req.q("id"), req.q("name"), req.q("username"), owner)
        .filter(|k| !active_only || k.usable(now))
        .map(|k| key_info(v, k))
        .collect();
    Ok(Reply::json(json!({ "api_keys": keys })))
}

/// `DELETE /_security/api_key` (RestInvalidateApiKeyAction): body `ids`/`id`, `name`,
/// `username`, `realm_name`, `owner`.
fn invalidate_api_keys(c: &mut Cluster, p: &Principal, req: &Req) -> Result<Reply, EsError> {
    const P: &str = "invalidate_api_key";
    let body = parse_body_object(&req.body, true)?.unwrap_or_default();
    let (mut ids, mut name, mut username, mut owner) = (Vec::new(), None, None, false);
    for (k, val) in &body {
        match k.as_str() {
            "ids" | "id" => ids.extend(string_list(P, k, val)?),
            "name" => name = val.as_str().map(String::from),
            "username" => username = val.as_str().map(String::from),
            "realm_name" => {}
            "owner" => owner = val.as_bool().unwrap_or(false),
            _ => {
                return Err(EsError::x_content(format!(
                    "[1:2] [{P}] unknown field [{k}]"
                )))
            }
        }
    }
    if ids.is_empty() && name.is_none() && username.is_none() && !owner {
        return Err(EsError::validation(&[
            "One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false".into(),
        ]));
    }
    let sec = c
        .security
        .as_mut()
        .ok_or_else(|| EsError::new(500, "exception", "security"))?;
    let chosen: Vec<String> = if ids.is_empty() {
        matching(sec, p, None, name.as_deref(), username.as_deref(), owner)
            .map(|k| k.id.clone())
            .collect()
    } else {
        ids.iter()
            .flat_map(|i| {
                matching(sec, p, Some(i), name.as_deref(), username.as_deref(), owner)
                    .map(|k| k.id.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (mut now_invalid, mut before) = (Vec::new(), Vec::new());
    for k in sec.api_keys.iter_mut().filter(|k| chosen.contains(&k.id)) {
        if k.invalidated {
            before.push(k.id.clone());
        } else {
            k.invalidated = true;
            now_invalid.push(k.id.clone());
        }
    }
    Ok(Reply::json(json!({
        "invalidated_api_keys": now_invalid,
        "previously_invalidated_api_keys": before,
        "error_count": 0,
    })))
}
