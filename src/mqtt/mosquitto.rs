//! Login and ACL files for an external Mosquitto (`griddispatch mqtt export-auth --format
//! mosquitto`): the same logins and the same topic rights as the embedded broker
//! ([`super::broker::acl`], docs/contract.md "Login and ACL on the embedded broker").
//!
//! The password file takes the Mosquitto hash kept with each login when its password was
//! issued; the passwords themselves are never stored. Logins issued before that hash was
//! kept cannot be exported until their password is reset.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::domain::{AccountKind, Ident};
use crate::store::{mosquitto_hash, MqttAccountRow, Store};

/// Name of the password file written in the output folder (Mosquitto's `password_file`).
pub const PASSWORD_FILE: &str = "passwd";
/// Name of the ACL file written in the output folder (Mosquitto's `acl_file`).
pub const ACL_FILE: &str = "acl";

/// A login that could not be written, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unexported {
    /// Its MQTT username.
    pub username: String,
    /// Why, and how to fix it.
    pub reason: String,
}

/// The two files' contents, and the logins left out of them.
#[derive(Debug, Clone)]
pub struct AuthFiles {
    /// Password file text, one `username:hash` line per login.
    pub passwd: String,
    /// ACL file text.
    pub acl: String,
    /// Responder and source logins written (the dispatcher's not counted).
    pub logins: usize,
    /// Logins left out.
    pub unexported: Vec<Unexported>,
}

/// Builds both files from the stored logins and the dispatcher's own login.
///
/// Every login gets its own `user` block rather than `pattern` lines with `%u`: a pattern
/// applies to every username in the password file, so the responder rules would also hand
/// each source (and the dispatcher) `dispatch/<its username>/…` and `owntracks/…`; and a
/// source's topics are keyed by its id (`alerts/s`) while its username is `source-s`, which
/// `%u` cannot express. Explicit blocks give each login exactly its contract topics and
/// make the file reviewable; the price is re-exporting after adding a login, which the
/// password file needs anyway.
pub fn render(
    dispatcher_user: &str,
    dispatcher_hash: &str,
    accounts: &[MqttAccountRow],
) -> anyhow::Result<AuthFiles> {
    check_dispatcher_username(dispatcher_user)?;
    if accounts.iter().any(|a| a.username == dispatcher_user) {
        bail!(
            "mqtt.username {dispatcher_user:?} is also a responder's or source's login; \
             give the dispatcher a username of its own"
        );
    }
    let mut passwd = format!("{dispatcher_user}:{dispatcher_hash}\n");
    let mut acl = String::from(
        "# Written by `griddispatch mqtt export-auth --format mosquitto`; do not edit, re-export.\n\
         # Rights as on griddispatch's embedded broker (docs/contract.md).\n\n",
    );
    acl.push_str(&format!(
        "# the dispatcher\nuser {dispatcher_user}\ntopic readwrite #\n"
    ));
    let mut logins = 0;
    let mut unexported = Vec::new();
    for a in accounts {
        let block = match account_block(a) {
            Ok(block) => block,
            Err(reason) => {
                unexported.push(Unexported {
                    username: a.username.clone(),
                    reason,
                });
                continue;
            }
        };
        let Some(hash) = a.mosquitto_hash.as_deref().filter(|h| h.starts_with("$7$")) else {
            unexported.push(Unexported {
                username: a.username.clone(),
                reason: format!(
                    "no Mosquitto hash: its password was issued before griddispatch kept one; \
                     issue a new one with POST {} (admin token) and give it to the {}",
                    reset_path(a),
                    if a.principal == AccountKind::Responder {
                        "worker's phone"
                    } else {
                        "source"
                    }
                ),
            });
            continue;
        };
        passwd.push_str(&format!("{}:{hash}\n", a.username));
        acl.push('\n');
        acl.push_str(&block);
        logins += 1;
    }
    Ok(AuthFiles {
        passwd,
        acl,
        logins,
        unexported,
    })
}

/// The API path that issues a new password for this login.
fn reset_path(a: &MqttAccountRow) -> String {
    match a.principal {
        AccountKind::Responder => format!("/api/v1/responders/{}/reset-password", a.subject_id),
        AccountKind::Source => format!("/api/v1/sources/{}/reset-password", a.subject_id),
    }
}

/// The ACL block of one login, or why it cannot be written.
fn account_block(a: &MqttAccountRow) -> Result<String, String> {
    // Ids are checked when created; checked again here because an id that is not one plain
    // topic level would widen the rules below, and a ':' cannot stand in a password file.
    let id = Ident::parse(&a.subject_id)
        .map_err(|e| format!("id {:?} cannot be exported: {e}", a.subject_id))?;
    let id = id.as_str();
    if a.username.contains(':') {
        return Err(format!(
            "Mosquitto usernames cannot contain ':'; recreate this {} under an id without one",
            a.principal
        ));
    }
    match a.principal {
        // `+` also matches an empty level, which the embedded broker refuses for a task
        // id; the dispatcher rejects such an update as it would any unknown task.
        AccountKind::Responder if a.username == id => Ok(format!(
            "# responder {id}\nuser {id}\n\
             topic write dispatch/{id}/tasks/+/update\n\
             topic write dispatch/{id}/tasks/+/extension\n\
             topic write dispatch/{id}/duty/set\n\
             topic write owntracks/{id}/+\n\
             topic write owntracks/{id}/+/event\n\
             topic read dispatch/{id}/#\n\
             topic read owntracks/{id}/+/cmd\n"
        )),
        AccountKind::Source if a.username == crate::store::source_username(id) => Ok(format!(
            "# source {id}\nuser {user}\n\
             topic write alerts/{id}\n\
             topic read alerts/{id}/#\n\
             topic readwrite frigate/#\n\
             topic readwrite gb28181/#\n",
            user = a.username
        )),
        other => Err(format!(
            "login of {other} {id} does not follow the username rules; reset or recreate it"
        )),
    }
}

fn check_dispatcher_username(user: &str) -> anyhow::Result<()> {
    if user.is_empty() {
        bail!(
            "mqtt.username and mqtt.password must be set: they are the dispatcher's own login \
             on the external broker, written to the password file with full rights"
        );
    }
    if user.contains(':') || user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("mqtt.username {user:?}: Mosquitto usernames cannot contain ':', spaces or control characters");
    }
    Ok(())
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The password file.
    pub passwd: PathBuf,
    /// The ACL file.
    pub acl: PathBuf,
    /// Responder and source logins written.
    pub logins: usize,
    /// Logins left out (only with `skip_missing`).
    pub skipped: Vec<Unexported>,
}

/// Reads the logins from the database named in `settings` and writes [`PASSWORD_FILE`] and
/// [`ACL_FILE`] into `out` (created when missing), each atomically and readable only by
/// its owner. Fails, writing nothing, when a login cannot be exported, unless
/// `skip_missing`.
pub async fn export(
    settings: &Settings,
    out: &Path,
    skip_missing: bool,
) -> anyhow::Result<Exported> {
    if settings.mqtt.username.is_empty() || !settings.mqtt.has_password() {
        bail!(
            "mqtt.username and mqtt.password must be set: they are the dispatcher's own login \
             on the external broker, written to the password file with full rights"
        );
    }
    let store = Store::connect(settings.database.url.as_str(), 1).await?;
    let accounts = store.mqtt_accounts().await;
    store.close().await;
    let files = render(
        &settings.mqtt.username,
        &mosquitto_hash(settings.mqtt.password.expose_secret()),
        &accounts?,
    )?;
    if !files.unexported.is_empty() && !skip_missing {
        let list: Vec<String> = files
            .unexported
            .iter()
            .map(|u| format!("  {}: {}", u.username, u.reason))
            .collect();
        bail!(
            "{} login(s) cannot be exported, nothing written (--skip-missing writes the rest):\n{}",
            files.unexported.len(),
            list.join("\n")
        );
    }
    let out = out.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Exported> {
        std::fs::create_dir_all(&out).with_context(|| format!("--out {}", out.display()))?;
        // ACL first: a broker reloading between the two renames then sees at worst new
        // users without passwords, who cannot log in, never logins without rules.
        let acl = write_private(&out, ACL_FILE, &files.acl)?;
        let passwd = write_private(&out, PASSWORD_FILE, &files.passwd)?;
        Ok(Exported {
            passwd,
            acl,
            logins: files.logins,
            skipped: files.unexported,
        })
    })
    .await
    .context("export task")?
}

/// Writes `dir/name` by way of a temporary file renamed over it, so Mosquitto never reads
/// half a file. Mode 0600: the broker's user must own it (Mosquitto 2 warns about
/// world-readable password and ACL files).
fn write_private(dir: &Path, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    // A leftover from a crashed run may have other permissions; start afresh.
    let _ = std::fs::remove_file(&tmp);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        // Make the rename itself durable.
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("writing {}: {e}", path.display())
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(user: &str, principal: &str, id: &str, hash: Option<&str>) -> MqttAccountRow {
        MqttAccountRow {
            username: user.into(),
            principal: principal.parse().expect("a test account kind"),
            subject_id: id.into(),
            mosquitto_hash: hash.map(str::to_owned),
        }
    }

    #[test]
    fn each_login_gets_exactly_its_topics() {
        let files = render(
            "dispatcher",
            "$7$101$d$h",
            &[
                account("source-cam", "source", "cam", Some("$7$101$a$b")),
                account("w1", "responder", "w1", Some("$7$101$c$d")),
            ],
        )
        .unwrap();
        assert_eq!(
            files.passwd,
            "dispatcher:$7$101$d$h\nsource-cam:$7$101$a$b\nw1:$7$101$c$d\n"
        );
        assert_eq!(files.logins, 2);
        assert!(files.unexported.is_empty());
        let w1 = "user w1\n\
                  topic write dispatch/w1/tasks/+/update\n\
                  topic write dispatch/w1/tasks/+/extension\n\
                  topic write dispatch/w1/duty/set\n\
                  topic write owntracks/w1/+\n\
                  topic write owntracks/w1/+/event\n\
                  topic read dispatch/w1/#\n\
                  topic read owntracks/w1/+/cmd\n";
        assert!(files.acl.contains(w1), "{}", files.acl);
        let cam = "user source-cam\n\
                   topic write alerts/cam\n\
                   topic read alerts/cam/#\n\
                   topic readwrite frigate/#\n\
                   topic readwrite gb28181/#\n";
        assert!(files.acl.contains(cam), "{}", files.acl);
        assert!(files.acl.contains("user dispatcher\ntopic readwrite #\n"));
        assert!(!files.acl.contains("pattern"));
    }

    #[test]
    fn logins_that_cannot_be_exported_are_named() {
        let files = render(
            "dispatcher",
            "$7$101$d$h",
            &[
                account("old", "responder", "old", None),
                account("a:b", "responder", "a:b", Some("$7$101$c$d")),
                account("odd", "responder", "w9", Some("$7$101$c$d")),
                account("source-s", "source", "s", Some("$7$101$e$f")),
            ],
        )
        .unwrap();
        let names: Vec<&str> = files
            .unexported
            .iter()
            .map(|u| u.username.as_str())
            .collect();
        assert_eq!(names, ["old", "a:b", "odd"]);
        assert!(files.unexported[0]
            .reason
            .contains("/api/v1/responders/old/reset-password"));
        assert_eq!(files.logins, 1);
        assert!(!files.passwd.contains("old:"));
        assert!(!files.acl.contains("user old"));
    }

    #[test]
    fn the_dispatcher_login_must_be_usable() {
        assert!(render("", "$7$", &[]).is_err());
        assert!(render("a:b", "$7$", &[]).is_err());
        let clash = render(
            "w1",
            "$7$",
            &[account("w1", "responder", "w1", Some("$7$101$c$d"))],
        );
        assert!(clash.unwrap_err().to_string().contains("w1"));
    }
}
