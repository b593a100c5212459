//! Setting auth up once, and reading with a token that may expire (etcd-client does not fetch a
//! new one by itself unless asked to).

use etcd_client::{Client, Error, Permission};
use tonic::Code;

/// Creates `user` with read-write access to keys under `prefix`, a root user, and turns auth
/// on; runs again without complaint (what exists already is left as it is).
pub async fn bootstrap(
    client: &mut Client,
    root_password: &str,
    user: &str,
    password: &str,
    prefix: &str,
) -> Result<(), Error> {
    ignore_existing(client.user_add("root", root_password, None).await)?;
    client.user_grant_role("root", "root").await?;
    let role = format!("{user}-rw");
    ignore_existing(client.role_add(role.as_str()).await)?;
    client
        .role_grant_permission(role.as_str(), Permission::read_write(prefix).with_prefix())
        .await?;
    ignore_existing(client.user_add(user, password, None).await)?;
    client.user_grant_role(user, role.as_str()).await?;
    client.auth_enable().await?;
    Ok(())
}

/// "user name already exists", "role name already exists": etcd says so with
/// FailedPrecondition.
fn ignore_existing<T>(result: Result<T, Error>) -> Result<(), Error> {
    match result {
        Ok(_) => Ok(()),
        Err(Error::GRpcStatus(s))
            if s.code() == Code::FailedPrecondition && s.message().ends_with("already exists") =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Reads a key; when the token is refused, authenticates again and reads once more.
pub async fn get_refreshing(client: &mut Client, key: &str) -> Result<Option<String>, Error> {
    let resp = match client.get(key, None).await {
        Err(e) if super::errors::should_refresh(&e) => {
            client.refresh_token().await?;
            client.get(key, None).await?
        }
        other => other?,
    };
    match resp.kvs().first() {
        Some(kv) => Ok(Some(kv.value_str()?.to_string())),
        None => Ok(None),
    }
}
