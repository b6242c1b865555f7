//! The contacts (table `contacts`): replaced as a whole by an import, read by department and role.

use sqlx::Row;

use super::{Store, StoreError, query};
use crate::warnings::contacts::{Contact, Role};

impl Store {
    /// Every contact, by role, department and name.
    pub async fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        let rows = query(
            "SELECT role, department, project_code, name, mobile, email FROM contacts \
             ORDER BY role, department, name, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let role: String = row.try_get("role")?;
            let Some(role) = Role::parse(&role) else {
                continue;
            };
            out.push(Contact {
                role,
                department: row.try_get("department")?,
                project_code: row.try_get("project_code")?,
                name: row.try_get("name")?,
                mobile: row.try_get("mobile")?,
                email: row.try_get("email")?,
            });
        }
        Ok(out)
    }
}
