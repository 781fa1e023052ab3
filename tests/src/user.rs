//! Running as an unprivileged user (issue 23): `hrc-tests --as-user UID` and
//! `hrc-fuzz --as-user UID` drop to that user (and group) before they open anything, so that
//! the suite and the fuzzer run a second time as a user without capabilities.

/// Makes the calling process user and group `uid`, with no supplementary groups and, as a
/// non-root uid, no capabilities. Call it before any thread is started.
pub fn become_user(uid: u32) -> Result<(), String> {
    // SAFETY: plain system calls on the calling process; the group list is empty.
    let r = unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(uid) != 0 {
            -1
        } else {
            libc::setuid(uid)
        }
    };
    if r != 0 {
        return Err(format!(
            "dropping to uid {uid}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Takes `--as-user UID` out of `args`, if given.
pub fn take_as_user(args: &mut Vec<String>) -> Result<Option<u32>, String> {
    let Some(i) = args.iter().position(|a| a == "--as-user") else {
        return Ok(None);
    };
    let uid = args
        .get(i + 1)
        .and_then(|v| v.parse().ok())
        .ok_or("--as-user wants a numeric uid")?;
    args.drain(i..i + 2);
    Ok(Some(uid))
}
