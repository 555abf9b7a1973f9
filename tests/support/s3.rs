//! A real S3 server for the tests: the one at `WEIR_S3_ENDPOINT` (`http://host:port`),
//! which `scripts/test.sh` starts (moto) when it is not set. Requests carry dummy
//! credentials, which moto accepts.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt as _, PutPayload};

const REGION: &str = "us-east-1";
const KEY_ID: &str = "weir-test";
const SECRET: &str = "weir-test-secret";

/// The server's URL; fails the test with what to do when there is none.
pub fn endpoint() -> String {
    std::env::var("WEIR_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "WEIR_S3_ENDPOINT is not set: run the tests with `bash scripts/test.sh`, which \
             starts an S3 server (moto), or point WEIR_S3_ENDPOINT at one (http://host:port)"
        )
    })
}

/// The environment variables a process (`weir sql`) reaches the server with.
pub fn env() -> [(&'static str, String); 5] {
    [
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_ACCESS_KEY_ID", KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_ALLOW_HTTP", "true".to_string()),
    ]
}

/// The same settings as object_store options, for a lake opened in the test's process
/// (whose environment the tests leave alone).
pub fn options() -> HashMap<String, String> {
    env()
        .into_iter()
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect()
}

/// A bucket name no other test (or earlier run against the same server) uses.
pub fn unique_bucket(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Creates `bucket` with a plain unsigned `PUT /bucket` (object_store cannot create
/// buckets).
pub fn create_bucket(bucket: &str) {
    let endpoint = endpoint();
    let host = endpoint
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("WEIR_S3_ENDPOINT {endpoint} is not http://host:port"))
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("{endpoint}: {e}"));
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default();
    assert!(
        status.starts_with("HTTP/1.1 200"),
        "creating bucket {bucket}: {response}"
    );
}

/// The store of `bucket` on the server.
pub fn bucket_store(bucket: &str) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_endpoint(endpoint())
        .with_allow_http(true)
        .with_region(REGION)
        .with_access_key_id(KEY_ID)
        .with_secret_access_key(SECRET)
        .build()
        .unwrap()
}

/// Copies every file under the local folder `from` to `bucket` under `prefix`, at the same
/// relative paths; the files of each `_delta_log` go last, so a commit never names a data
/// file that is not there yet.
pub async fn upload(from: &Path, bucket: &str, prefix: &str) {
    let store = bucket_store(bucket);
    let mut files = Vec::new();
    collect_files(from, &mut files);
    files.sort_by_key(|f| {
        (
            f.components().any(|c| c.as_os_str() == "_delta_log"),
            f.clone(),
        )
    });
    for file in files {
        let relative = file.strip_prefix(from).unwrap();
        let key = ObjectPath::from(format!("{prefix}/{}", relative.to_str().unwrap()));
        let bytes = std::fs::read(&file).unwrap();
        store
            .put(&key, PutPayload::from(bytes))
            .await
            .unwrap_or_else(|e| panic!("uploading {key}: {e}"));
    }
}

fn collect_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}
