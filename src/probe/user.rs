//! Looking up the account an exec probe runs as.
//!
//! Done with the reentrant libc calls (`getpwnam_r`, `getpwuid_r`, `getgrouplist`) so that
//! NSS modules (LDAP, SSSD) work as they do for `su`, and before the start: the child may only
//! make raw system calls (see `probe::exec::spawn`), so everything it needs (uid, gid, supplementary groups) is
//! resolved here and handed to it as plain numbers. These calls may block on the network;
//! callers run them off the async threads.

use std::ffi::{CStr, CString};

/// Who to become: the numbers the child passes to setgroups, setgid and setuid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// Supplementary groups, as `initgroups` would set them (the primary group included).
    pub groups: Vec<libc::gid_t>,
}

/// Resolves a user name, or a numeric uid that has a passwd entry (its primary group and
/// supplementary groups come from there; a uid without an entry has no known group).
pub fn resolve(user: &str) -> Result<RunAs, String> {
    let entry = match lookup_name(user)? {
        Some(entry) => entry,
        None => match user.parse::<libc::uid_t>() {
            Ok(uid) => lookup_uid(uid)?
                .ok_or_else(|| format!("uid {uid} has no passwd entry, so its group is unknown"))?,
            Err(_) => return Err("no such user".to_string()),
        },
    };
    let groups = group_list(&entry.name, entry.gid)?;
    Ok(RunAs {
        name: entry.name,
        uid: entry.uid,
        gid: entry.gid,
        groups,
    })
}

struct Entry {
    name: String,
    uid: libc::uid_t,
    gid: libc::gid_t,
}

/// Calls a `getpw*_r` function with a growing buffer until it fits.
fn lookup_with(
    mut call: impl FnMut(
        *mut libc::passwd,
        *mut libc::c_char,
        libc::size_t,
        *mut *mut libc::passwd,
    ) -> libc::c_int,
) -> Result<Option<Entry>, String> {
    let mut size = 1024usize;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; size];
        // SAFETY: passwd is plain old data; an all-zero value is a valid "empty" one that
        // the call overwrites.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = call(&mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc == libc::ERANGE && size < 1 << 20 {
            size *= 4;
            continue;
        }
        if rc != 0 {
            return Err(format!(
                "looking it up failed: {}",
                std::io::Error::from_raw_os_error(rc)
            ));
        }
        if result.is_null() {
            return Ok(None);
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`, which
        // is still alive here.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) }
            .to_string_lossy()
            .into_owned();
        return Ok(Some(Entry {
            name,
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
        }));
    }
}

fn lookup_name(name: &str) -> Result<Option<Entry>, String> {
    let Ok(c_name) = CString::new(name) else {
        return Err("the name contains a NUL byte".to_string());
    };
    lookup_with(|pwd, buf, len, result| {
        // SAFETY: every pointer is valid for the duration of the call and `len` is the
        // length of `buf`.
        unsafe { libc::getpwnam_r(c_name.as_ptr(), pwd, buf, len, result) }
    })
}

fn lookup_uid(uid: libc::uid_t) -> Result<Option<Entry>, String> {
    lookup_with(|pwd, buf, len, result| {
        // SAFETY: as in lookup_name.
        unsafe { libc::getpwuid_r(uid, pwd, buf, len, result) }
    })
}

/// The groups `initgroups(name, gid)` would set.
fn group_list(name: &str, gid: libc::gid_t) -> Result<Vec<libc::gid_t>, String> {
    let Ok(c_name) = CString::new(name) else {
        return Err("the name contains a NUL byte".to_string());
    };
    let mut count: libc::c_int = 32;
    loop {
        let mut groups: Vec<libc::gid_t> = vec![0; usize::try_from(count).unwrap_or(32)];
        let mut n = count;
        // SAFETY: `groups` has room for `n` entries; getgrouplist writes at most that many
        // and stores the number needed in `n`.
        let rc = unsafe { libc::getgrouplist(c_name.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            groups.truncate(usize::try_from(n).unwrap_or(0));
            return Ok(groups);
        }
        if n <= count || n > 65536 {
            return Err("cannot list its groups".to_string());
        }
        count = n;
    }
}

#[cfg(test)]
mod tests;
