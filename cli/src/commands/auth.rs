//! `auth enable|disable|status`, `user ...`, `role ...`. Passwords are read from the terminal
//! (twice, without echo) or from stdin, never printed.

use std::io::Read;

use etcdgw::{Permission, PermissionType, RoleRevokePermissionOptions, UserAddOptions};

use super::Ctx;
use crate::args::{AuthCommand, RoleCommand, UserCommand};
use crate::connect::ask_password;
use crate::error::{CliError, CliResult};
use crate::output::simple::prefix_range_end;
use crate::output::{emit, Kind};

fn no_args(args: &[String], message: &str) -> CliResult {
    if args.is_empty() {
        Ok(())
    } else {
        Err(CliError::bad_args(message))
    }
}

pub(crate) async fn auth(ctx: &Ctx, cmd: AuthCommand) -> CliResult {
    match cmd {
        AuthCommand::Enable { args } => {
            no_args(&args, "auth enable command does not accept any arguments")?;
            ctx.client().await?.auth_enable().await?;
            emit(b"Authentication Enabled\n")
        }
        AuthCommand::Disable { args } => {
            no_args(&args, "auth disable command does not accept any arguments")?;
            ctx.client().await?.auth_disable().await?;
            emit(b"Authentication Disabled\n")
        }
        AuthCommand::Status { args } => {
            no_args(&args, "auth status command does not accept any arguments")?;
            ctx.printer.check(Kind::AuthStatus)?;
            let resp = ctx.client().await?.auth_status().await?;
            emit(
                &ctx.printer
                    .auth_status(resp.header(), resp.enabled(), resp.auth_revision())?,
            )
        }
    }
}

/// etcdctl's `readPasswordInteractive`: asked twice on the terminal, not empty, the same.
fn read_password_interactive(name: &str) -> CliResult<String> {
    let first = ask_password(&format!("Password of {name}: "))
        .map_err(|e| CliError::bad_args(format!("failed to ask password: {}", e.message)))?;
    if first.is_empty() {
        return Err(CliError::bad_args("empty password"));
    }
    let second = ask_password(&format!("Type password of {name} again for confirmation: "))
        .map_err(|e| CliError::bad_args(format!("failed to ask password: {}", e.message)))?;
    if first != second {
        return Err(CliError::bad_args("given passwords are different"));
    }
    Ok(first)
}

/// The first word of stdin, as etcdctl's `fmt.Scanf("%s")` reads a password.
fn read_password_stdin() -> CliResult<String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| CliError::bad_args(format!("cannot read the password from stdin: {e}")))?;
    Ok(input
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

pub(crate) async fn user(ctx: &Ctx, cmd: UserCommand) -> CliResult {
    let p = &ctx.printer;
    match cmd {
        UserCommand::Add {
            interactive,
            new_user_password,
            no_password,
            args,
        } => {
            let [arg] = args.as_slice() else {
                return Err(CliError::bad_args(
                    "user add command requires user name as its argument",
                ));
            };
            p.check(Kind::UserAdd)?;
            let (name, password, options) = if no_password {
                (
                    arg.clone(),
                    String::new(),
                    UserAddOptions::new().with_no_pwd(),
                )
            } else if let Some(password) = new_user_password.filter(|p| !p.is_empty()) {
                (arg.clone(), password, UserAddOptions::new())
            } else {
                match arg.split_once(':') {
                    Some((name, password)) => {
                        if name.is_empty() {
                            return Err(CliError::bad_args("empty user name is not allowed"));
                        }
                        (
                            name.to_string(),
                            password.to_string(),
                            UserAddOptions::new(),
                        )
                    }
                    None if interactive => (
                        arg.clone(),
                        read_password_interactive(arg)?,
                        UserAddOptions::new(),
                    ),
                    None => (arg.clone(), read_password_stdin()?, UserAddOptions::new()),
                }
            };
            let resp = ctx
                .client()
                .await?
                .user_add(name.clone(), password, Some(options))
                .await?;
            emit(&p.header_only(
                Kind::UserAdd,
                resp.header(),
                format!("User {name} created\n"),
            )?)
        }
        UserCommand::Delete { args } => {
            let [name] = args.as_slice() else {
                return Err(CliError::bad_args(
                    "user delete command requires user name as its argument",
                ));
            };
            p.check(Kind::UserDelete)?;
            let resp = ctx.client().await?.user_delete(name.clone()).await?;
            emit(&p.header_only(
                Kind::UserDelete,
                resp.header(),
                format!("User {name} deleted\n"),
            )?)
        }
        UserCommand::Get { detail, args } => {
            let [name] = args.as_slice() else {
                return Err(CliError::bad_args(
                    "user get command requires user name as its argument",
                ));
            };
            let client = ctx.client().await?;
            if detail {
                p.check(Kind::RoleGet)?;
                let resp = client.user_get(name.clone()).await?;
                emit(format!("User: {name}\n").as_bytes())?;
                for role in resp.roles() {
                    emit(b"\n")?;
                    let role_resp = client.role_get(role.clone()).await?;
                    emit(&p.role_get(role, &role_resp)?)?;
                }
                return Ok(());
            }
            p.check(Kind::UserGet)?;
            let resp = client.user_get(name.clone()).await?;
            let mut text = format!("User: {name}\nRoles:");
            for role in resp.roles() {
                text.push(' ');
                text.push_str(role);
            }
            text.push('\n');
            emit(&p.names(Kind::UserGet, resp.header(), "roles", resp.roles(), text)?)
        }
        UserCommand::List { args } => {
            no_args(&args, "user list command requires no arguments")?;
            p.check(Kind::UserList)?;
            let resp = ctx.client().await?.user_list().await?;
            let text: String = resp.users().iter().map(|u| format!("{u}\n")).collect();
            emit(&p.names(Kind::UserList, resp.header(), "users", resp.users(), text)?)
        }
        UserCommand::Passwd { interactive, args } => {
            let [name] = args.as_slice() else {
                return Err(CliError::bad_args(
                    "user passwd command requires user name as its argument",
                ));
            };
            p.check(Kind::UserPasswd)?;
            let password = if interactive {
                read_password_interactive(name)?
            } else {
                read_password_stdin()?
            };
            let resp = ctx
                .client()
                .await?
                .user_change_password(name.clone(), password)
                .await?;
            emit(&p.header_only(
                Kind::UserPasswd,
                resp.header(),
                "Password updated\n".to_string(),
            )?)
        }
        UserCommand::GrantRole { args } => {
            let [name, role] = args.as_slice() else {
                return Err(CliError::bad_args(
                    "user grant command requires user name and role name as its argument",
                ));
            };
            p.check(Kind::UserGrantRole)?;
            let resp = ctx
                .client()
                .await?
                .user_grant_role(name.clone(), role.clone())
                .await?;
            emit(&p.header_only(
                Kind::UserGrantRole,
                resp.header(),
                format!("Role {role} is granted to user {name}\n"),
            )?)
        }
        UserCommand::RevokeRole { args } => {
            let [name, role] = args.as_slice() else {
                return Err(CliError::bad_args(
                    "user revoke-role requires user name and role name as its argument",
                ));
            };
            p.check(Kind::UserRevokeRole)?;
            let resp = ctx
                .client()
                .await?
                .user_revoke_role(name.clone(), role.clone())
                .await?;
            emit(&p.header_only(
                Kind::UserRevokeRole,
                resp.header(),
                format!("Role {role} is revoked from user {name}\n"),
            )?)
        }
    }
}

/// etcdctl's `permRange`: the key and range end a permission covers. An empty key with
/// `--prefix` or `--from-key` covers every key (`["\0", "\0")`).
fn perm_range(args: &[String], prefix: bool, from_key: bool) -> CliResult<(Vec<u8>, Vec<u8>)> {
    if prefix && from_key {
        return Err(CliError::bad_args(
            "--from-key and --prefix flags are mutually exclusive",
        ));
    }
    let key = args.first().map(String::as_bytes).unwrap_or_default();
    if key.is_empty() {
        let end = if prefix || from_key {
            vec![0]
        } else {
            Vec::new()
        };
        return Ok((vec![0], end));
    }
    let end = match args.get(1) {
        None if prefix => prefix_range_end(key),
        None if from_key => vec![0],
        None => Vec::new(),
        Some(_) if prefix => {
            return Err(CliError::bad_args(
                "unexpected endkey argument with --prefix flag",
            ))
        }
        Some(_) if from_key => {
            return Err(CliError::bad_args(
                "unexpected endkey argument with --from-key flag",
            ))
        }
        Some(end) => end.as_bytes().to_vec(),
    };
    Ok((key.to_vec(), end))
}

pub(crate) async fn role(ctx: &Ctx, cmd: RoleCommand) -> CliResult {
    let p = &ctx.printer;
    match cmd {
        RoleCommand::Add { args } => {
            let [name] = args.as_slice() else {
                return Err(CliError::bad_args(
                    "role add command requires role name as its argument",
                ));
            };
            p.check(Kind::RoleAdd)?;
            let resp = ctx.client().await?.role_add(name.clone()).await?;
            emit(&p.header_only(
                Kind::RoleAdd,
                resp.header(),
                format!("Role {name} created\n"),
            )?)
        }
        RoleCommand::Delete { args } => {
            let [name] = args.as_slice() else {
                return Err(CliError::bad_args(
                    "role delete command requires role name as its argument",
                ));
            };
            p.check(Kind::RoleDelete)?;
            let resp = ctx.client().await?.role_delete(name.clone()).await?;
            emit(&p.header_only(
                Kind::RoleDelete,
                resp.header(),
                format!("Role {name} deleted\n"),
            )?)
        }
        RoleCommand::Get { args } => {
            let [name] = args.as_slice() else {
                return Err(CliError::bad_args(
                    "role get command requires role name as its argument",
                ));
            };
            p.check(Kind::RoleGet)?;
            let resp = ctx.client().await?.role_get(name.clone()).await?;
            emit(&p.role_get(name, &resp)?)
        }
        RoleCommand::List { args } => {
            no_args(&args, "role list command requires no arguments")?;
            p.check(Kind::RoleList)?;
            let resp = ctx.client().await?.role_list().await?;
            let text: String = resp.roles().iter().map(|r| format!("{r}\n")).collect();
            emit(&p.names(Kind::RoleList, resp.header(), "roles", resp.roles(), text)?)
        }
        RoleCommand::GrantPermission {
            prefix,
            from_key,
            args,
        } => {
            if args.len() < 3 {
                return Err(CliError::bad_args(
                    "role grant command requires role name, permission type, and key [endkey] as its argument",
                ));
            }
            let perm_type = match args[1].to_uppercase().as_str() {
                "READ" => PermissionType::Read,
                "WRITE" => PermissionType::Write,
                "READWRITE" => PermissionType::Readwrite,
                _ => {
                    return Err(CliError::bad_args(format!(
                        "invalid permission type: {}",
                        args[1]
                    )))
                }
            };
            p.check(Kind::RoleGrantPermission)?;
            let (key, end) = perm_range(&args[2..], prefix, from_key)?;
            let mut perm = Permission::new(perm_type, key);
            if !end.is_empty() {
                perm = perm.with_range_end(end);
            }
            let resp = ctx
                .client()
                .await?
                .role_grant_permission(args[0].clone(), perm)
                .await?;
            emit(&p.header_only(
                Kind::RoleGrantPermission,
                resp.header(),
                format!("Role {} updated\n", args[0]),
            )?)
        }
        RoleCommand::RevokePermission {
            prefix,
            from_key,
            args,
        } => {
            if args.len() < 2 {
                return Err(CliError::bad_args(
                    "role revoke-permission command requires role name and key [endkey] as its argument",
                ));
            }
            p.check(Kind::RoleRevokePermission)?;
            let (key, end) = perm_range(&args[1..], prefix, from_key)?;
            let mut options = RoleRevokePermissionOptions::new();
            if !end.is_empty() {
                options = options.with_range_end(end.clone());
            }
            let resp = ctx
                .client()
                .await?
                .role_revoke_permission(args[0].clone(), key, Some(options))
                .await?;
            let (role, shown_key) = (&args[0], &args[1]);
            let text = if end.is_empty() {
                format!("Permission of key {shown_key} is revoked from role {role}\n")
            } else if end != [0] {
                format!(
                    "Permission of range [{shown_key}, {}) is revoked from role {role}\n",
                    String::from_utf8_lossy(&end)
                )
            } else {
                format!(
                    "Permission of range [{shown_key}, <open ended> is revoked from role {role}\n"
                )
            };
            emit(&p.header_only(Kind::RoleRevokePermission, resp.header(), text)?)
        }
    }
}
