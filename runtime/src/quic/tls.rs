//! TLS for cluster links: mutual TLS 1.3 against the cluster CA, ring as the provider.
//!
//! Both sides present a certificate signed by the cluster CA and check the other's: the
//! server requires a client certificate (an anonymous or foreign peer never gets past
//! the handshake), and the client checks that the server's certificate names the node
//! it meant to reach. A node's identity is the subject alternative name of its
//! certificate, never something a peer says in a message.

use std::sync::Arc;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;

use super::{ClusterIdentity, QuicError};

/// The ALPN protocol of cluster links; a peer speaking anything else is refused.
pub const ALPN: &[u8] = b"neptune/1";

/// The crypto provider, named explicitly: ring, whatever else is compiled in.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(identity: &ClusterIdentity) -> Result<Arc<RootCertStore>, QuicError> {
    let mut roots = RootCertStore::empty();
    roots.add(identity.ca.clone()).map_err(QuicError::Tls)?;
    Ok(Arc::new(roots))
}

/// The rustls configuration of a cluster listener: TLS 1.3 only, ALPN `neptune/1`, and
/// a client certificate signed by the cluster CA required of every peer.
pub fn server_tls_config(identity: &ClusterIdentity) -> Result<rustls::ServerConfig, QuicError> {
    let provider = provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(identity)?, provider.clone())
        .build()
        .map_err(|err| QuicError::Config(format!("client certificate verifier: {err}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(QuicError::Tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(QuicError::Tls)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// The rustls configuration of a cluster client: TLS 1.3 only, ALPN `neptune/1`, the
/// server checked against the cluster CA, and this node's certificate presented.
pub fn client_tls_config(identity: &ClusterIdentity) -> Result<rustls::ClientConfig, QuicError> {
    let provider = provider();
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(identity)?, provider.clone())
        .build()
        .map_err(|err| QuicError::Config(format!("server certificate verifier: {err}")))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(QuicError::Tls)?
        .with_webpki_verifier(verifier)
        .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(QuicError::Tls)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// The QUIC server configuration: [`server_tls_config`] and [`transport_config`].
pub fn server_config(identity: &ClusterIdentity) -> Result<quinn::ServerConfig, QuicError> {
    let crypto = QuicServerConfig::try_from(server_tls_config(identity)?)
        .map_err(|err| QuicError::Config(format!("QUIC server TLS: {err}")))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config()));
    Ok(config)
}

/// The QUIC client configuration: [`client_tls_config`] and [`transport_config`].
pub fn client_config(identity: &ClusterIdentity) -> Result<quinn::ClientConfig, QuicError> {
    let crypto = QuicClientConfig::try_from(client_tls_config(identity)?)
        .map_err(|err| QuicError::Config(format!("QUIC client TLS: {err}")))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config()));
    Ok(config)
}

/// Transport settings of cluster links.
///
/// A request opens a fresh stream, so the stream limit is what bounds the requests in
/// flight on one link: 1,024 rather than quinn's 100. Keep-alives every second let a
/// quiet link outlive the 10 s idle timeout, which is what turns a peer that vanished
/// without closing its link (killed, cut off) into an error instead of a wait; a
/// cluster driver notices sooner, from missed heartbeats.
pub fn transport_config() -> quinn::TransportConfig {
    let mut config = quinn::TransportConfig::default();
    config
        .max_concurrent_bidi_streams(1024u32.into())
        .max_concurrent_uni_streams(1024u32.into())
        .keep_alive_interval(Some(std::time::Duration::from_secs(1)))
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(std::time::Duration::from_secs(10))
                .expect("10 s is a valid idle timeout"),
        ));
    config
}

/// The node name in a peer's certificate chain: the first DNS subject alternative name
/// of its end-entity certificate.
pub(crate) fn node_name(chain: &[CertificateDer<'_>]) -> Option<String> {
    node_name_of(chain.first()?)
}

/// The first DNS subject alternative name of a certificate, if it parses and has one.
pub(crate) fn node_name_of(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    super::identity::first_dns_name(cert.subject_alternative_name().ok()??.value)
}
