//! Filesystem decisions against every path trick.

use std::path::{Path, PathBuf};

use ironclaw_policy::{Access, DenyEvent, FsPermission, FsPolicy, HomeLayout, Verdict};

struct Fixture {
    _dir: tempfile::TempDir,
    home: HomeLayout,
    outside: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let home = HomeLayout::new(dir.path().join("home"));
    std::fs::create_dir_all(home.skill_workspace("github")).unwrap();
    std::fs::create_dir_all(home.skill_workspace("himalaya")).unwrap();
    std::fs::create_dir_all(home.shared_workspace()).unwrap();
    std::fs::write(home.skill_workspace("himalaya").join("mail.txt"), "x").unwrap();
    std::fs::write(home.shared_workspace().join("notes.txt"), "x").unwrap();
    std::fs::write(home.config(), "{}").unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "x").unwrap();
    Fixture {
        _dir: dir,
        home,
        outside,
    }
}

fn policy(f: &Fixture, grants: &[FsPermission]) -> FsPolicy {
    FsPolicy::for_skill(&f.home, "github", grants)
}

fn check(policy: &FsPolicy, path: &Path, access: Access, allowed: bool) {
    let verdict = policy.check(path, access);
    assert_eq!(
        verdict.is_allowed(),
        allowed,
        "{} {access:?}: {verdict:?}",
        path.display()
    );
    if let Verdict::Deny { event, .. } = verdict {
        assert_eq!(event, DenyEvent::FilesystemBlock);
    }
}

#[test]
fn own_workspace_only_by_default() {
    let f = fixture();
    let p = policy(&f, &[]);
    let own = f.home.skill_workspace("github");
    check(&p, &own.join("out.json"), Access::Rw, true);
    check(&p, &own.join("deep/new/dir/file"), Access::Rw, true);
    check(
        &p,
        &f.home.skill_workspace("himalaya").join("mail.txt"),
        Access::Ro,
        false,
    );
    check(
        &p,
        &f.home.shared_workspace().join("notes.txt"),
        Access::Ro,
        false,
    );
    check(&p, &f.outside.join("secret.txt"), Access::Ro, false);
}

#[test]
fn shared_only_when_granted_and_read_only_means_read_only() {
    let f = fixture();
    let shared = FsPermission::new(&f.home.shared_workspace(), Access::Ro).unwrap();
    let p = policy(&f, &[shared]);
    check(
        &p,
        &f.home.shared_workspace().join("notes.txt"),
        Access::Ro,
        true,
    );
    check(
        &p,
        &f.home.shared_workspace().join("notes.txt"),
        Access::Rw,
        false,
    );
    check(
        &p,
        &f.home.shared_workspace().join("new.txt"),
        Access::Rw,
        false,
    );
}

#[test]
fn dot_dot_in_any_position() {
    let f = fixture();
    let p = policy(&f, &[]);
    let own = f.home.skill_workspace("github");
    check(&p, &own.join("../himalaya/mail.txt"), Access::Ro, false);
    check(
        &p,
        &own.join("a/../../himalaya/mail.txt"),
        Access::Ro,
        false,
    );
    check(&p, &own.join("a/.."), Access::Ro, false);
    check(&p, Path::new("../himalaya/mail.txt"), Access::Ro, false);
}

#[test]
fn other_spellings_of_the_same_path() {
    let f = fixture();
    let p = policy(&f, &[]);
    let own = f.home.skill_workspace("github");
    let s = own.display().to_string();
    check(&p, Path::new(&format!("{s}//x.txt")), Access::Rw, true);
    check(&p, Path::new(&format!("{s}/./x.txt")), Access::Rw, true);
    check(&p, Path::new(&format!("{s}/sub/")), Access::Rw, true);
    check(&p, Path::new("relative.txt"), Access::Rw, true);
    // A sibling whose name starts with the workspace's name is not inside it.
    let sibling = PathBuf::from(format!("{s}-evil"));
    std::fs::create_dir_all(&sibling).unwrap();
    check(&p, &sibling.join("x"), Access::Rw, false);
    let other = f.home.skill_workspace("himalaya").display().to_string();
    check(
        &p,
        Path::new(&format!("{other}//mail.txt")),
        Access::Ro,
        false,
    );
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_grant() {
    use std::os::unix::fs::symlink;
    let f = fixture();
    let p = policy(&f, &[]);
    let own = f.home.skill_workspace("github");
    symlink(&f.outside, own.join("dirlink")).unwrap();
    symlink(f.outside.join("secret.txt"), own.join("filelink")).unwrap();
    symlink(own.join("filelink"), own.join("chain")).unwrap();
    symlink(f.outside.join("missing.txt"), own.join("dangling")).unwrap();
    symlink("../himalaya", own.join("lateral")).unwrap();
    symlink(own.join("real.txt"), own.join("inner")).unwrap();
    std::fs::write(own.join("real.txt"), "x").unwrap();
    check(&p, &own.join("dirlink/secret.txt"), Access::Ro, false);
    check(&p, &own.join("dirlink/new.txt"), Access::Rw, false);
    check(&p, &own.join("filelink"), Access::Ro, false);
    check(&p, &own.join("chain"), Access::Ro, false);
    check(&p, &own.join("dangling"), Access::Rw, false);
    check(&p, &own.join("lateral/mail.txt"), Access::Ro, false);
    // A symlink that stays inside is fine and resolves to the real file.
    check(&p, &own.join("inner"), Access::Ro, true);
    let (real, _) = p.resolve(&own.join("inner"), Access::Ro).unwrap();
    assert_eq!(real, std::fs::canonicalize(own.join("real.txt")).unwrap());
}

#[cfg(unix)]
#[test]
fn granted_directory_reached_through_a_symlinked_spelling() {
    use std::os::unix::fs::symlink;
    let f = fixture();
    let link = f.outside.join("shared-link");
    symlink(f.home.shared_workspace(), &link).unwrap();
    let shared = FsPermission::new(&f.home.shared_workspace(), Access::Ro).unwrap();
    let p = policy(&f, &[shared]);
    check(&p, &link.join("notes.txt"), Access::Ro, true);
    // A grant written through a symlink protects the real directory.
    let via_link = FsPermission::new(&link, Access::Ro).unwrap();
    let p = policy(&f, &[via_link]);
    check(
        &p,
        &f.home.shared_workspace().join("notes.txt"),
        Access::Ro,
        true,
    );
}

#[cfg(unix)]
#[test]
fn hard_links_are_refused() {
    let f = fixture();
    let p = policy(&f, &[]);
    let own = f.home.skill_workspace("github");
    std::fs::hard_link(f.outside.join("secret.txt"), own.join("hard.txt")).unwrap();
    check(&p, &own.join("hard.txt"), Access::Ro, false);
    check(&p, &own.join("hard.txt"), Access::Rw, false);
    std::fs::write(own.join("single.txt"), "x").unwrap();
    check(&p, &own.join("single.txt"), Access::Rw, true);
}

#[test]
fn home_control_files_are_never_reachable() {
    let f = fixture();
    let everything = FsPermission::new(f.home.root(), Access::Rw).unwrap();
    let p = policy(&f, &[everything]);
    check(&p, &f.home.config(), Access::Ro, false);
    check(&p, &f.home.allowlist(), Access::Rw, false);
    check(&p, &f.home.dotenv(), Access::Ro, false);
    check(&p, &f.home.secrets_dir().join("x"), Access::Ro, false);
    check(
        &p,
        &f.home.skill_dir("github").join("skill.json"),
        Access::Rw,
        false,
    );
    check(
        &p,
        &f.home.shared_workspace().join("notes.txt"),
        Access::Rw,
        true,
    );
}
