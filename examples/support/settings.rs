//! `--set KEY=VALUE` (any number of times) on a benchmark's command line: DataFusion
//! settings of weir's session, to measure what a setting would change.

use weir_sql::QuerySession;

/// Applies every `--set KEY=VALUE` of `args` to `session`, saying so on stdout.
pub fn apply(session: &QuerySession, args: &[String]) {
    for (i, flag) in args.iter().enumerate() {
        if flag != "--set" {
            continue;
        }
        let setting = args.get(i + 1).expect("--set KEY=VALUE");
        let (key, value) = setting.split_once('=').expect("--set KEY=VALUE");
        let state_ref = session.context().state_ref();
        let mut state = state_ref.write();
        state
            .config_mut()
            .options_mut()
            .set(key, value)
            .expect("a DataFusion setting");
        println!("set {key} = {value}\n");
    }
}
