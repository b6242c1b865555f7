//! The contacts (table `contacts`): replaced as a whole by an import, read by department and role.
