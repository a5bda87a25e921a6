pub fn spawn(_app: std::sync::Arc<super::handlers::SlackApp>, _token: String) -> tokio::task::JoinHandle<()> { tokio::spawn(async {}) }
