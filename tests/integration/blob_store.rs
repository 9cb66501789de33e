//! Blobs in an S3-compatible object store (`SIEVE_BLOBS=s3://bucket/prefix`) through the real
//! binary: a whole stored run with nothing kept under the home directory, an object altered in the
//! bucket caught at use, and a store that cannot be reached failing with a `storage` error that
//! leaves no record. Runs when `SIEVE_TEST_S3` names a server (CI starts one, with bucket
//! `sieve-test` and the keys below).

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::Value;

use crate::common::{stderr, stdout};
use crate::registry::{Reg, approve_as_second_admin, dataset_for_all, publish};

const BUCKET: &str = "sieve-test";
pub(crate) const KEYS: [(&str, &str); 3] =
    [("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_REGION", "us-east-1")];

/// A SQLite registry whose blobs live under a prefix of their own in the test bucket, with the
/// bucket to look at them; `None` (with a note) when no server is configured.
fn s3_registry(test: &str) -> Option<(Reg, AmazonS3, String)> {
    let Ok(endpoint) = std::env::var("SIEVE_TEST_S3") else {
        eprintln!("SIEVE_TEST_S3 is not set: {test} does not run here (CI starts an S3 server)");
        return None;
    };
    let prefix = format!("{test}-{}", std::process::id());
    let blobs = format!("s3://{BUCKET}/{prefix}");
    let mut env = vec![("SIEVE_BLOBS", blobs.as_str()), ("AWS_ENDPOINT_URL", endpoint.as_str())];
    env.extend(KEYS);
    let reg = Reg::sqlite(test).with_env(&env);
    let bucket = AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_bucket_name(BUCKET)
        .with_access_key_id(KEYS[0].1)
        .with_secret_access_key(KEYS[1].1)
        .with_region(KEYS[2].1)
        .build()
        .expect("S3 client");
    Some((reg, bucket, prefix))
}

fn block_on<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

#[test]
fn a_stored_run_keeps_its_blobs_in_the_bucket_and_an_altered_object_is_caught() {
    let Some((reg, bucket, prefix)) = s3_registry("s3-run") else { return };
    let admin = reg.init();
    dataset_for_all(&reg, &admin, "auctions", "judicial-auction-violations");
    let model = reg.fresh_dir("model").join("model.wasm");
    reg.ok(
        &admin,
        &["bundled", "export", "judicial-auction-violations", "--out", model.to_str().expect("utf-8")],
    );
    let digest = publish(&reg, &admin, model.to_str().expect("utf-8"));
    approve_as_second_admin(&reg, &admin, &digest);

    let report = reg.json(&admin, &["run", &digest, "--dataset", "auctions"]);
    assert_eq!(report["outcome"], "completed", "{report}");
    assert!(report["clues"].as_u64().is_some_and(|n| n > 0), "{report}");
    assert!(!reg.home().join("blobs").exists(), "nothing is stored under the home directory");
    let plugin = Key::from(format!("{prefix}/sha256/{}", &digest[7..]));
    let stored =
        block_on(async { bucket.get(&plugin).await.expect("plugin object").bytes().await.expect("bytes") });
    assert_eq!(
        stored.as_ref(),
        std::fs::read(&model).expect("model"),
        "the plugin's bytes, under their digest"
    );

    // Run again, the compiled code cached: the same clues.
    let second = reg.json(&admin, &["run", &digest, "--dataset", "auctions", "--fresh"]);
    assert_eq!(second["output_digest"], report["output_digest"], "{second}");

    // The store unreachable: the run fails with a storage error (its plugin cannot be read), and
    // its record says so.
    let down = reg
        .clone()
        .with_env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9"), ("SIEVE_BLOBS_RETRY_SECONDS", "0")]);
    let o = down.cmd(Some(&admin), &["run", &digest, "--dataset", "auctions", "--fresh"]);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(stderr(&o).contains("error: storage: s3://sieve-test/"), "{}", stderr(&o));
    let last = &reg.json(&admin, &["runs", "list"])[0];
    assert_eq!(
        (last["state"].as_str(), last["outcome"].as_str()),
        (Some("failed"), Some("storage")),
        "{last}"
    );
    assert_eq!(last["clues"], 0, "{last}");

    // The plugin's object altered in the bucket: the run is refused as hash-mismatch, and the
    // plugin marked tampered.
    let mut altered = stored.to_vec();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    block_on(async { bucket.put(&plugin, PutPayload::from(altered)).await.expect("alter") });
    let o = reg.cmd(Some(&admin), &["run", &digest, "--dataset", "auctions", "--fresh"]);
    assert_eq!(o.status.code(), Some(18), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("hash-mismatch"), "{}", stderr(&o));
    assert_eq!(reg.json(&admin, &["plugin", "show", &digest])["tampered"], true);
    reg.audit_intact(&admin);
}

#[test]
fn an_unreachable_store_fails_with_a_storage_error_and_keeps_no_record() {
    let Some((reg, _, _)) = s3_registry("s3-down") else { return };
    // Nothing listens on port 9 of the loopback; no retrying, so the test does not wait.
    let reg = reg.with_env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9"), ("SIEVE_BLOBS_RETRY_SECONDS", "0")]);
    let admin = reg.init();
    let dir = crate::registry::data("judicial-auction-violations");
    let import = crate::registry::import_args(
        "auctions",
        dir.to_str().expect("utf-8"),
        "judicial-auction-violations",
        "court",
    );
    let o = reg.cmd(Some(&admin), &import);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(stderr(&o).contains("storage: s3://sieve-test/"), "{}", stderr(&o));
    let listed: Value = reg.json(&admin, &["dataset", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "no dataset recorded: {listed}");
}

/// A blob larger than one upload part (16 MiB) goes up in parts and reads back whole, both at
/// once and as a stream, checked against its digest; storing it again uploads nothing.
#[test]
fn a_blob_of_several_parts_round_trips_through_the_bucket() {
    use sieve_host::storage::blobs::BlobStore;
    use sieve_host::storage::s3::{S3Location, S3Settings};
    let Ok(endpoint) = std::env::var("SIEVE_TEST_S3") else {
        eprintln!("SIEVE_TEST_S3 is not set: the multipart test does not run here (CI starts an S3 server)");
        return;
    };
    let home = crate::common::fresh_dir("s3-multipart");
    let location =
        S3Location::parse(&format!("s3://{BUCKET}/multipart-{}", std::process::id())).expect("location");
    let settings = S3Settings {
        endpoint: Some(endpoint),
        credentials: Some((KEYS[0].1.into(), KEYS[1].1.into())),
        region: Some(KEYS[2].1.into()),
        retry_seconds: 5,
    };
    let store = BlobStore::s3(&home, location, settings).expect("store");
    // 40 MiB that do not compress or repeat: three parts, the last one short.
    let mut bytes = vec![0u8; 40 << 20];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for chunk in bytes.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    // Written in pieces, as an import streams a column file or a Parquet table into the store.
    let write = |out: &mut sieve_host::storage::blobs::BlobWriter<'_>| -> std::io::Result<()> {
        bytes.chunks(3 << 20).try_for_each(|piece| std::io::Write::write_all(out, piece))
    };
    let (digest, size) = store.put_written(write).expect("multipart upload");
    assert_eq!(size, bytes.len() as u64);
    assert_eq!(digest, sieve_host::digest::digest_of(&bytes));
    assert!(store.get(&digest).expect("get") == bytes, "read back whole, the same bytes");
    let streamed = store
        .read_with(&digest, |reader, len| {
            let mut all = Vec::with_capacity(len);
            std::io::Read::read_to_end(reader, &mut all).map(|_| all)
        })
        .expect("streamed")
        .expect("read");
    assert!(streamed == bytes, "read back as a stream, the same bytes");
    // Stored again: already there, so nothing is uploaded, and no work file is left behind.
    assert_eq!(store.put_written(write).expect("again"), (digest, size));
    let left: Vec<_> =
        std::fs::read_dir(home.join("tmp")).expect("tmp").flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "work files left: {left:?}");
}
