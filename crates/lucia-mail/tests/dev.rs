//! `DevMailer`: one sortable `.eml` file per message.

use lucia_mail::{DevMailer, Mail, MailError, Mailer};

#[tokio::test]
async fn writes_one_sortable_eml_file_per_message() {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("lucia-mail-dev-{}-{nanos}", std::process::id()));
    let mailer = DevMailer::new("Lucia <no-reply@example.com>", &dir).unwrap();
    for i in 0..12 {
        mailer.send(&Mail::new("ada@example.com", format!("Message {i}"), format!("Body {i}"))).await.unwrap();
    }
    let html = mailer.write(&Mail::new("ada@example.com", "HTML", "text").with_html("<p>html</p>")).await.unwrap();
    assert_eq!(html.extension().unwrap(), "eml");

    let mut names: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names.len(), 13);
    for (i, name) in names.iter().take(12).enumerate() {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(text.contains(&format!("Subject: Message {i}\r\n")), "{name}: {text}");
        assert!(text.contains("To: ada@example.com\r\n") && text.contains("From: Lucia <no-reply@example.com>\r\n"));
        assert!(text.contains(&format!("Body {i}")));
    }
    let last = std::fs::read_to_string(dir.join(&names[12])).unwrap();
    assert!(last.contains("multipart/alternative") && last.contains("<p>html</p>"));
    // The files hold codes and links: readable by their owner alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&html).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    let error = mailer.send(&Mail::new("nope", "x", "y")).await.unwrap_err();
    assert!(matches!(error, MailError::InvalidAddress { .. }));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unwritable_folder_is_io_error() {
    let file = std::env::temp_dir().join(format!("lucia-mail-file-{}", std::process::id()));
    std::fs::write(&file, b"").unwrap();
    let error = DevMailer::new("a@example.com", file.join("sub")).unwrap_err();
    assert!(matches!(error, MailError::Io(_)), "{error:?}");
    std::fs::remove_file(&file).unwrap();
}
