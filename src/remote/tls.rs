//! TLS for the daemon's TCP listener (rustls with the aws-lc-rs provider, the one the
//! AWS SDK and reqwest use too: one crypto provider in the process). The daemon is given
//! a certificate chain and key (PEM); a client trusts the CA or self-signed certificate
//! it is given (`--tls-ca`, PEM). The bearer token is still required on top.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| format!("{}: {err}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it (PEM expected)", path.display()));
    }
    Ok(certs)
}

/// The daemon's side, from a certificate chain and its private key (PEM files).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|err| format!("{}: {err}", key.display()))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|err| format!("{}: {err}", cert.display()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A client's side, trusting the certificates in `ca` (PEM).
pub fn connector(ca: &Path) -> Result<TlsConnector, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca)? {
        roots.add(cert).map_err(|err| format!("{}: {err}", ca.display()))?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name a certificate must carry for `addr` (`host:port`): the host, a DNS name or
/// an IP address.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, String> {
    let host =
        addr.rsplit_once(':').map_or(addr, |(host, _)| host).trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|err| format!("{host}: {err}"))
}
