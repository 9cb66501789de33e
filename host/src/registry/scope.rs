//! What each user may see: every list and show is scoped to what the caller may use or manages,
//! so a county's users do not learn another county's restricted sources, submitted plugins,
//! people or audit trail.

use super::accounts::User;
use super::plugins::PluginRecord;
use super::{Actor, Registry, RegistryError, Result, Role};
use crate::audit::{self, Event};
use crate::registry::catalog::DatasetRecord;

impl Registry {
    /// Whether `actor` is an admin at or above procuratorate `org_id`.
    async fn manages(&self, actor: &Actor, org_id: i64) -> Result<bool> {
        Ok(actor.has(Role::Admin) && self.within(org_id, actor.user.org_id).await?)
    }

    async fn dataset_visible(&self, actor: &Actor, d: &DatasetRecord) -> Result<bool> {
        Ok(d.owner_org_id == actor.user.org_id
            || self.manages(actor, d.owner_org_id).await?
            || (d.state == "approved" && self.require_dataset_use(actor, d).await.is_ok()))
    }

    /// The datasets `actor` owns, manages or may use.
    pub async fn datasets_visible_to(&self, actor: &Actor) -> Result<Vec<DatasetRecord>> {
        let mut out = Vec::new();
        for d in self.datasets().await? {
            if self.dataset_visible(actor, &d).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Dataset `given` (`NAME[@version]`), if `actor` may see it; otherwise "not found", so its
    /// existence is not given away either.
    pub async fn dataset_visible_to(&self, actor: &Actor, given: &str) -> Result<DatasetRecord> {
        let d = self.dataset(given, false).await?;
        if self.dataset_visible(actor, &d).await? {
            Ok(d)
        } else {
            Err(RegistryError::NotFound { kind: "dataset", id: given.to_string() })
        }
    }

    async fn plugin_visible(&self, actor: &Actor, p: &PluginRecord) -> Result<bool> {
        Ok(p.author == actor.user.name
            || self.manages(actor, p.org_id).await?
            || (p.state == "approved" && self.plugin_approved_for(p, actor.user.org_id).await?))
    }

    /// The plugins `actor` published, manages (as an admin above the publisher) or may run.
    pub async fn plugins_visible_to(&self, actor: &Actor) -> Result<Vec<PluginRecord>> {
        let mut out = Vec::new();
        for p in self.plugins().await? {
            if self.plugin_visible(actor, &p).await? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Plugin `given`, if `actor` may see it; otherwise "not found".
    pub async fn plugin_visible_to(&self, actor: &Actor, given: &str) -> Result<PluginRecord> {
        let p = self.plugin(given).await?;
        if self.plugin_visible(actor, &p).await? {
            Ok(p)
        } else {
            Err(RegistryError::NotFound { kind: "plugin", id: given.to_string() })
        }
    }

    /// `actor` alone, or for an admin every user of their subtree.
    pub async fn users_visible_to(&self, actor: &Actor) -> Result<Vec<User>> {
        let mut out = Vec::new();
        for u in self.users().await? {
            if u.id == actor.user.id || self.manages(actor, u.org_id).await? {
                out.push(u);
            }
        }
        Ok(out)
    }

    /// The newest `limit` audit events `actor` may read (admins only): the whole log for an
    /// admin of the root procuratorate, otherwise the events of the users of their subtree.
    pub async fn audit_visible_to(
        &self,
        actor: &Actor,
        limit: i64,
        target: Option<&str>,
        before: Option<i64>,
    ) -> Result<Vec<Event>> {
        actor.require(Role::Admin, "reading the audit log")?;
        if actor.org_chain.len() <= 1 {
            return Ok(audit::list(&self.db, limit, target, None, before).await?);
        }
        let names: Vec<String> = self.users_visible_to(actor).await?.into_iter().map(|u| u.name).collect();
        Ok(audit::list(&self.db, limit, target, Some(&names), before).await?)
    }
}
