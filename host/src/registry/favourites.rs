//! Favourite models: each user's own short list, kept at the top of the registry page.

use sqlx::Row;

use super::{Actor, Registry, Result};

impl Registry {
    /// Star or unstar plugin `given` for `actor` (a plugin they may see).
    pub async fn set_favourite(&self, actor: &Actor, given: &str, favourite: bool) -> Result<()> {
        let plugin = self.plugin_visible_to(actor, given).await?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM favourites WHERE user_id = $1 AND digest = $2")
            .bind(actor.user.id)
            .bind(&plugin.digest)
            .execute(&mut *tx)
            .await?;
        if favourite {
            sqlx::query("INSERT INTO favourites (user_id, digest) VALUES ($1, $2)")
                .bind(actor.user.id)
                .bind(&plugin.digest)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The digests `actor` starred.
    pub async fn favourites(&self, actor: &Actor) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT digest FROM favourites WHERE user_id = $1")
            .bind(actor.user.id)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get("digest")?)).collect()
    }
}
