//! The contacts (table `contacts`): replaced as a whole by an import, read by department and
//! role. An import is one transaction, so a reader sees the old list or the new one, never a
//! mixture, and a failure part-way leaves the old one in place.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, query};
use crate::warnings::contacts::{Contact, ContactRow, Role};

const COLUMNS: &str = "role, department, project_code, name, mobile, email, line";

impl Store {
    /// Replaces every stored contact with `contacts`, numbered 1, 2, … by their place (for
    /// contacts that come from no file, such as the demo's).
    pub async fn replace_contacts(&self, contacts: &[Contact]) -> Result<(), StoreError> {
        let rows: Vec<ContactRow> = (1..)
            .zip(contacts)
            .map(|(line, contact)| ContactRow {
                line,
                contact: contact.clone(),
            })
            .collect();
        self.replace_contact_rows(&rows).await
    }

    /// Replaces every stored contact with `rows` (an import's, with each row's line in its
    /// file), in one transaction: all of them or, on any failure, none.
    pub async fn replace_contact_rows(&self, rows: &[ContactRow]) -> Result<(), StoreError> {
        let insert = self.sql(&format!(
            "INSERT INTO contacts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ));
        let mut tx = self.pool.begin().await?;
        query("DELETE FROM contacts").execute(&mut *tx).await?;
        for row in rows {
            let c = &row.contact;
            query(&insert)
                .bind(c.role.as_str())
                .bind(c.department.as_str())
                .bind(c.project_code.as_str())
                .bind(c.name.as_str())
                .bind(c.mobile.as_str())
                .bind(c.email.as_str())
                .bind(i64::try_from(row.line).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every contact, in the order of the file they were imported from.
    pub async fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        let rows = query(&format!("SELECT {COLUMNS} FROM contacts ORDER BY line, id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(contact_of).collect()
    }

    /// The departments the stored items name, for an import to note the ones it does not.
    pub async fn department_names(&self) -> Result<Vec<String>, StoreError> {
        let rows = query("SELECT name FROM departments ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<String, _>("name")?))
            .collect()
    }

    /// A department's contacts of one role (its handlers, its head), in the file's order.
    pub async fn contacts_of(
        &self,
        department: &str,
        role: Role,
    ) -> Result<Vec<Contact>, StoreError> {
        let rows = query(&self.sql(&format!(
            "SELECT {COLUMNS} FROM contacts WHERE department = $1 AND role = $2 ORDER BY line, id"
        )))
        .bind(department)
        .bind(role.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(contact_of).collect()
    }

    /// Everyone of one role whatever their department (the office, the ladder's leaders).
    pub async fn contacts_in_role(&self, role: Role) -> Result<Vec<Contact>, StoreError> {
        let rows = query(&self.sql(&format!(
            "SELECT {COLUMNS} FROM contacts WHERE role = $1 ORDER BY line, id"
        )))
        .bind(role.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(contact_of).collect()
    }

    /// The stewards (项目管家) who follow the project `project_code`.
    pub async fn stewards_of(&self, project_code: &str) -> Result<Vec<Contact>, StoreError> {
        let rows = query(&self.sql(&format!(
            "SELECT {COLUMNS} FROM contacts WHERE role = $1 AND project_code = $2 ORDER BY line, id"
        )))
        .bind(Role::Steward.as_str())
        .bind(project_code)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(contact_of).collect()
    }
}

fn contact_of(row: &AnyRow) -> Result<Contact, StoreError> {
    let role: String = row.try_get("role")?;
    let role = Role::parse(&role).ok_or_else(|| {
        // Only an import writes the table; another program or release must have.
        sqlx::Error::Decode(
            format!(
                "contacts has a row with role {role:?}, which this release does not know; \
                 import the contacts file again"
            )
            .into(),
        )
    })?;
    Ok(Contact {
        role,
        department: row.try_get("department")?,
        project_code: row.try_get("project_code")?,
        name: row.try_get("name")?,
        mobile: row.try_get("mobile")?,
        email: row.try_get("email")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(role: Role, department: &str, name: &str, mobile: &str) -> Contact {
        Contact {
            role,
            department: department.into(),
            project_code: String::new(),
            name: name.into(),
            mobile: mobile.into(),
            email: String::new(),
        }
    }

    #[tokio::test]
    async fn contacts_are_replaced_whole_and_read_by_department_and_role() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("c.db").display()))
            .await
            .unwrap();
        let first = vec![
            contact(Role::Handler, "市水利局", "张三", "13812345678"),
            contact(Role::Head, "市水利局", "李四", "13912345678"),
        ];
        store.replace_contacts(&first).await.unwrap();
        assert_eq!(store.contacts().await.unwrap(), first);
        let mut steward = contact(Role::Steward, "", "赵六", "13612345678");
        steward.project_code = "2611-370102-04-01-123456".into();
        let second = vec![
            ContactRow {
                line: 7,
                contact: contact(Role::Handler, "市气象局", "王五", "13712345678"),
            },
            ContactRow {
                line: 3,
                contact: steward.clone(),
            },
            ContactRow {
                line: 5,
                contact: contact(Role::Handler, "市气象局", "钱七", "13512345678"),
            },
        ];
        store.replace_contact_rows(&second).await.unwrap();
        let names: Vec<String> = store
            .contacts()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(
            names,
            ["赵六", "钱七", "王五"],
            "the first import's are gone; file order"
        );
        let handlers = store.contacts_of("市气象局", Role::Handler).await.unwrap();
        assert_eq!(handlers.len(), 2);
        assert!(
            store
                .contacts_of("市水利局", Role::Handler)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.stewards_of("2611-370102-04-01-123456").await.unwrap(),
            [steward]
        );
        assert_eq!(
            store.contacts_in_role(Role::Handler).await.unwrap().len(),
            2
        );
    }
}
