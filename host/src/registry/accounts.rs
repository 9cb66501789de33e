//! Procuratorates (a province > city > county tree), users with roles, and API tokens (random,
//! shown once, stored as sha256). Every command acts as an [`Actor`] found from its token.

use serde::Serialize;
use sqlx::Row;

use super::{Registry, RegistryError, Result, check_name};
use crate::audit;
use crate::digest::sha256_hex;
use crate::storage::{WriteTx, now};

/// What a user may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Publish models and run them on granted datasets.
    Author,
    /// Vet plugins, approve and grant datasets, release results, revoke, manage users.
    Admin,
    /// Run competitions.
    Organizer,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Author => "author",
            Role::Admin => "admin",
            Role::Organizer => "organizer",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        [Role::Author, Role::Admin, Role::Organizer].into_iter().find(|r| r.as_str() == s)
    }
}

/// Levels of the procuratorate tree, from the root down.
const LEVELS: [&str; 3] = ["province", "city", "county"];

/// A procuratorate.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct Org {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// The procuratorate above it (`None` for the root).
    pub parent: Option<String>,
    /// `province`, `city` or `county`.
    pub level: String,
}

/// A user.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Their procuratorate's id.
    #[serde(skip)]
    pub org_id: i64,
    /// Their procuratorate's name.
    pub org: String,
    /// Their roles.
    pub roles: Vec<Role>,
}

/// The signed-in user, with the chain of procuratorates from theirs up to the root.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Who.
    pub user: User,
    /// Their procuratorate first, then each one above it.
    pub org_chain: Vec<i64>,
}

impl Actor {
    /// Whether the user has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.user.roles.contains(&role)
    }

    /// Require `role` for `what`; the refusal names the role.
    pub fn require(&self, role: Role, what: &str) -> Result<()> {
        if self.has(role) {
            Ok(())
        } else {
            Err(RegistryError::Denied(format!(
                "{what} needs the {} role; {} has {}",
                role.as_str(),
                self.user.name,
                roles_text(&self.user.roles)
            )))
        }
    }
}

fn roles_text(roles: &[Role]) -> String {
    if roles.is_empty() {
        "no roles".into()
    } else {
        roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
    }
}

fn new_token() -> Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| RegistryError::Invalid(format!("no randomness for a token: {e}")))?;
    Ok(format!("sv_{}", hex::encode(bytes)))
}

async fn issue_token(tx: &mut WriteTx, user_id: i64) -> Result<String> {
    let token = new_token()?;
    sqlx::query("INSERT INTO tokens (user_id, token_hash, created_at) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(sha256_hex(token.as_bytes()))
        .bind(now())
        .execute(&mut **tx)
        .await?;
    Ok(token)
}

fn user_from(row: &sqlx::any::AnyRow) -> Result<User> {
    let roles: String = row.try_get("roles")?;
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        org_id: row.try_get("org_id")?,
        org: row.try_get("org_name")?,
        roles: roles.split(',').filter_map(Role::parse).collect(),
    })
}

fn org_from(row: &sqlx::any::AnyRow) -> Result<Org> {
    Ok(Org {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        parent: row.try_get("parent")?,
        level: row.try_get("level")?,
    })
}

const ORG_SELECT: &str =
    "SELECT o.id, o.name, o.level, p.name AS parent FROM orgs o LEFT JOIN orgs p ON p.id = o.parent_id";

async fn insert_org(tx: &mut WriteTx, name: &str, parent: Option<i64>, level: &str) -> Result<i64> {
    Ok(sqlx::query(
        "INSERT INTO orgs (name, parent_id, level, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(parent)
    .bind(level)
    .bind(now())
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?)
}

async fn insert_user(tx: &mut WriteTx, name: &str, org_id: i64, roles: &str) -> Result<i64> {
    Ok(sqlx::query(
        "INSERT INTO users (name, org_id, roles, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(org_id)
    .bind(roles)
    .bind(now())
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?)
}

const USER_SELECT: &str =
    "SELECT u.id, u.name, u.org_id, u.roles, o.name AS org_name FROM users u JOIN orgs o ON o.id = u.org_id";

impl Registry {
    /// Create the root procuratorate and the first admin; refuse if the registry already has one.
    /// Returns the admin's token (shown once).
    pub async fn init(&self, root_org: &str, admin: &str) -> Result<String> {
        check_name("procuratorate", root_org)?;
        check_name("user", admin)?;
        let mut tx = self.db.begin_write().await?;
        let existing: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM orgs").fetch_one(&mut *tx).await?.try_get("n")?;
        if existing > 0 {
            return Err(RegistryError::Conflict(format!(
                "the registry in {} is already initialised: ask an admin for a token (sieve user token)",
                self.home.display()
            )));
        }
        let org_id = insert_org(&mut tx, root_org, None, LEVELS[0]).await?;
        let roles = [Role::Admin, Role::Author, Role::Organizer].map(Role::as_str).join(",");
        let user_id = insert_user(&mut tx, admin, org_id, &roles).await?;
        let token = issue_token(&mut tx, user_id).await?;
        let detail = serde_json::json!({ "root": root_org, "admin": admin });
        audit::append(&mut tx, admin, "registry.init", root_org, detail).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The user holding `token`, with their procuratorate chain.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Actor> {
        let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
            RegistryError::Unauthenticated(
                "set SIEVE_TOKEN (or pass --token) to a token from `sieve init` or `sieve user token`".into(),
            )
        })?;
        let row = sqlx::query(&format!(
            "{USER_SELECT} JOIN tokens t ON t.user_id = u.id WHERE t.token_hash = $1 AND t.revoked = 0"
        ))
        .bind(sha256_hex(token.as_bytes()))
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| {
            RegistryError::Unauthenticated(
                "the token matches no user (revoked, or from another registry)".into(),
            )
        })?;
        let user = user_from(&row)?;
        let org_chain = self.org_chain(user.org_id).await?;
        Ok(Actor { user, org_chain })
    }

    /// User `id` as an actor: a queued submission runs as the person who submitted it.
    pub async fn actor_for(&self, id: i64) -> Result<Actor> {
        let row = sqlx::query(&format!("{USER_SELECT} WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound { kind: "user", id: id.to_string() })?;
        let user = user_from(&row)?;
        let org_chain = self.org_chain(user.org_id).await?;
        Ok(Actor { user, org_chain })
    }

    /// `org_id` and every procuratorate above it.
    pub async fn org_chain(&self, org_id: i64) -> Result<Vec<i64>> {
        let mut chain = vec![org_id];
        let mut current = org_id;
        while chain.len() <= LEVELS.len() {
            let parent: Option<i64> = sqlx::query("SELECT parent_id FROM orgs WHERE id = $1")
                .bind(current)
                .fetch_one(self.db.pool())
                .await?
                .try_get("parent_id")?;
            match parent {
                Some(p) => {
                    chain.push(p);
                    current = p;
                }
                None => break,
            }
        }
        Ok(chain)
    }

    /// Whether procuratorate `org_id` is `ancestor` or lies below it.
    pub async fn within(&self, org_id: i64, ancestor: i64) -> Result<bool> {
        Ok(self.org_chain(org_id).await?.contains(&ancestor))
    }

    /// Whether `actor` organizes or administers procuratorate `org_id` (it or one above it).
    pub async fn is_staff_over(&self, actor: &Actor, org_id: i64) -> Result<bool> {
        Ok((actor.has(Role::Organizer) || actor.has(Role::Admin))
            && self.within(org_id, actor.user.org_id).await?)
    }

    /// Require that `actor` is an admin whose procuratorate is `org_id` or above it.
    pub async fn require_admin_over(&self, actor: &Actor, org_id: i64, what: &str) -> Result<()> {
        actor.require(Role::Admin, what)?;
        if self.within(org_id, actor.user.org_id).await? {
            Ok(())
        } else {
            Err(RegistryError::Denied(format!(
                "{what}: {} is an admin of {}, which is not above {}",
                actor.user.name,
                actor.user.org,
                self.org_name(org_id).await?
            )))
        }
    }

    /// The procuratorate called `name`.
    pub async fn org(&self, name: &str) -> Result<Org> {
        let row = sqlx::query(&format!("{ORG_SELECT} WHERE o.name = $1"))
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound { kind: "procuratorate", id: name.to_string() })?;
        org_from(&row)
    }

    async fn org_name(&self, id: i64) -> Result<String> {
        Ok(sqlx::query("SELECT name FROM orgs WHERE id = $1")
            .bind(id)
            .fetch_one(self.db.pool())
            .await?
            .try_get("name")?)
    }

    /// Every procuratorate, root first.
    pub async fn orgs(&self) -> Result<Vec<Org>> {
        let rows = sqlx::query(&format!("{ORG_SELECT} ORDER BY o.id")).fetch_all(self.db.pool()).await?;
        rows.iter().map(org_from).collect()
    }

    /// Add procuratorate `name` under `parent` (admin of `parent` or above). Its level follows
    /// from its parent's: province > city > county, nothing below a county.
    pub async fn add_org(&self, actor: &Actor, name: &str, parent: &str) -> Result<Org> {
        self.check_new_name("procuratorate", name, "orgs", "name").await?;
        let parent = self.org(parent).await?;
        self.require_admin_over(actor, parent.id, "adding a procuratorate").await?;
        let depth = LEVELS.iter().position(|l| *l == parent.level).unwrap_or(LEVELS.len()) + 1;
        let level = *LEVELS.get(depth).ok_or_else(|| {
            RegistryError::Invalid(format!(
                "{} is a {}: nothing can be added below it",
                parent.name, parent.level
            ))
        })?;
        let mut tx = self.db.begin_write().await?;
        let taken =
            sqlx::query("SELECT id FROM orgs WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        if taken.is_some() {
            return Err(RegistryError::Conflict(format!("procuratorate {name:?} already exists")));
        }
        let id = insert_org(&mut tx, name, Some(parent.id), level).await?;
        let detail = serde_json::json!({ "parent": parent.name, "level": level });
        audit::append(&mut tx, &actor.user.name, "org.add", name, detail).await?;
        tx.commit().await?;
        Ok(Org { id, name: name.to_string(), parent: Some(parent.name), level: level.to_string() })
    }

    /// Add user `name` to procuratorate `org` with `roles` (admin of `org` or above); returns the
    /// user and their first token.
    pub async fn add_user(
        &self,
        actor: &Actor,
        name: &str,
        org: &str,
        roles: &[Role],
    ) -> Result<(User, String)> {
        self.check_new_name("user", name, "users", "name").await?;
        let org = self.org(org).await?;
        self.require_admin_over(actor, org.id, "adding a user").await?;
        let mut roles = roles.to_vec();
        roles.sort_by_key(|r| r.as_str());
        roles.dedup();
        let mut tx = self.db.begin_write().await?;
        let taken =
            sqlx::query("SELECT id FROM users WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        if taken.is_some() {
            return Err(RegistryError::Conflict(format!("user {name:?} already exists")));
        }
        let roles_text = roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
        let id = insert_user(&mut tx, name, org.id, &roles_text).await?;
        let token = issue_token(&mut tx, id).await?;
        let detail = serde_json::json!({ "org": org.name, "roles": roles_text });
        audit::append(&mut tx, &actor.user.name, "user.add", name, detail).await?;
        tx.commit().await?;
        Ok((User { id, name: name.to_string(), org_id: org.id, org: org.name, roles }, token))
    }

    /// The user called `name`.
    pub async fn user(&self, name: &str) -> Result<User> {
        let row = sqlx::query(&format!("{USER_SELECT} WHERE u.name = $1"))
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound { kind: "user", id: name.to_string() })?;
        user_from(&row)
    }

    /// Every user.
    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!("{USER_SELECT} ORDER BY u.id")).fetch_all(self.db.pool()).await?;
        rows.iter().map(user_from).collect()
    }

    /// A new token for user `name` (themselves, or an admin above their procuratorate). With
    /// `revoke_others`, their earlier tokens stop working.
    pub async fn new_token(&self, actor: &Actor, name: &str, revoke_others: bool) -> Result<String> {
        let user = self.user(name).await?;
        if user.id != actor.user.id {
            self.require_admin_over(actor, user.org_id, "issuing a token for another user").await?;
        }
        let mut tx = self.db.begin_write().await?;
        if revoke_others {
            sqlx::query("UPDATE tokens SET revoked = 1 WHERE user_id = $1")
                .bind(user.id)
                .execute(&mut *tx)
                .await?;
        }
        let token = issue_token(&mut tx, user.id).await?;
        let detail = serde_json::json!({ "revoked_others": revoke_others });
        audit::append(&mut tx, &actor.user.name, "user.token", name, detail).await?;
        tx.commit().await?;
        Ok(token)
    }
}
