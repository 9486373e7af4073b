//! Cluster identities: the cluster CA and each node's certificate and key.
//!
//! A [`ClusterCa`] mints node certificates whose DNS subject alternative name is the
//! node's name and whose extended key usages allow both TLS server and client
//! authentication (every node both serves and dials). Both live in PEM files: the CA as
//! `DIR/ca.pem` and `DIR/ca.key`, a node as `DIR/NAME.pem` and `DIR/NAME.key` next to a
//! copy of `ca.pem`. Loading checks everything a handshake would later trip over (the
//! files' format, the key against the certificate, the validity period, the signature of
//! the cluster CA) so that a misconfigured node fails at start-up with an error naming
//! the file, not at its first connection.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::time::ASN1Time;

/// File name of the cluster CA's certificate in a certificate directory.
const CA_CERT_FILE: &str = "ca.pem";
/// File name of the cluster CA's private key in the CA's directory.
const CA_KEY_FILE: &str = "ca.key";

/// How long a node certificate from [`ClusterCa::issue`] is valid.
const DEFAULT_NODE_VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// How long the CA from [`ClusterCa::generate`] is valid: ten years, so that it outlives
/// many rounds of node certificates.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// Certificates start this long before they are minted, so that a peer whose clock is a
/// little behind accepts a freshly issued one.
const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// 9999-12-31T23:59:59Z: the last instant an X.509 time can express.
const LAST_X509_SECOND: u64 = 253_402_300_799;

/// What can go wrong minting, saving or loading cluster certificates. Every variant
/// about a file names it.
#[derive(Debug)]
#[non_exhaustive]
pub enum IdentityError {
    /// A file is missing or could not be read (`source.kind()` tells which).
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file or its directory could not be written.
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Saving would replace an existing file, and replacing was not asked for.
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The directory already holds a different cluster CA certificate.
    CaConflict {
        /// The existing CA certificate file.
        path: PathBuf,
    },
    /// The file is not PEM (no PEM section, or a malformed one).
    NotPem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The PEM file holds no certificate.
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The PEM file holds no (unencrypted) private key.
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// A certificate or key in the file is malformed or of an unsupported kind.
    BadFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The private key does not belong to the certificate.
    KeyMismatch {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
    },
    /// The certificate's validity period has ended.
    Expired {
        /// The certificate file.
        path: PathBuf,
        /// When it ended, as the certificate states it.
        not_after: String,
    },
    /// The certificate's validity period has not begun.
    NotYetValid {
        /// The certificate file.
        path: PathBuf,
        /// When it begins, as the certificate states it.
        not_before: String,
    },
    /// The CA certificate is not a certificate authority (no CA basic constraint).
    NotACa {
        /// The certificate file.
        path: PathBuf,
    },
    /// The certificate was not signed by the cluster CA.
    NotSignedByCa {
        /// The node's certificate file.
        cert: PathBuf,
        /// The cluster CA's certificate file.
        ca: PathBuf,
    },
    /// The certificate chains to the cluster CA but is unfit for cluster links (for
    /// instance, it lacks the client-authentication usage).
    Untrusted {
        /// The node's certificate file.
        cert: PathBuf,
        /// The cluster CA's certificate file.
        ca: PathBuf,
        /// Why the certificate was refused.
        reason: String,
    },
    /// The certificate has no DNS subject alternative name to take the node name from.
    NoNodeName {
        /// The certificate file.
        path: PathBuf,
    },
    /// The certificate names another node than the one asked for.
    NameMismatch {
        /// The certificate file.
        path: PathBuf,
        /// The node name asked for.
        expected: String,
        /// The node name in the certificate.
        found: String,
    },
    /// The node name cannot name a certificate (or its files).
    InvalidName {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// A key or certificate could not be minted (an impossible validity period, say).
    Mint {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityError::Read { path, source } if source.kind() == io::ErrorKind::NotFound => {
                write!(f, "{} does not exist", path.display())
            }
            IdentityError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            IdentityError::Write { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
            IdentityError::AlreadyExists { path } => {
                write!(
                    f,
                    "{} already exists; refusing to replace it",
                    path.display()
                )
            }
            IdentityError::CaConflict { path } => write!(
                f,
                "{} holds a different cluster CA certificate; refusing to replace it",
                path.display()
            ),
            IdentityError::NotPem { path, reason } => {
                write!(f, "{} is not a PEM file: {reason}", path.display())
            }
            IdentityError::NoCertificate { path } => write!(
                f,
                "{} holds no certificate (no BEGIN CERTIFICATE section)",
                path.display()
            ),
            IdentityError::NoPrivateKey { path } => write!(
                f,
                "{} holds no unencrypted private key (no BEGIN PRIVATE KEY section)",
                path.display()
            ),
            IdentityError::BadFormat { path, reason } => write!(f, "{}: {reason}", path.display()),
            IdentityError::KeyMismatch { key, cert } => write!(
                f,
                "the private key in {} does not match the certificate in {}",
                key.display(),
                cert.display()
            ),
            IdentityError::Expired { path, not_after } => write!(
                f,
                "the certificate in {} expired on {not_after}",
                path.display()
            ),
            IdentityError::NotYetValid { path, not_before } => write!(
                f,
                "the certificate in {} is not valid until {not_before}",
                path.display()
            ),
            IdentityError::NotACa { path } => write!(
                f,
                "the certificate in {} is not a certificate authority",
                path.display()
            ),
            IdentityError::NotSignedByCa { cert, ca } => write!(
                f,
                "the certificate in {} is not signed by the cluster CA in {}",
                cert.display(),
                ca.display()
            ),
            IdentityError::Untrusted { cert, ca, reason } => write!(
                f,
                "the certificate in {} is refused by the cluster CA in {}: {reason}",
                cert.display(),
                ca.display()
            ),
            IdentityError::NoNodeName { path } => write!(
                f,
                "the certificate in {} names no node (it has no DNS subject alternative name)",
                path.display()
            ),
            IdentityError::NameMismatch {
                path,
                expected,
                found,
            } => write!(
                f,
                "the certificate in {} is for node {found:?}, not {expected:?}",
                path.display()
            ),
            IdentityError::InvalidName { name, reason } => {
                write!(f, "invalid node name {name:?}: {reason}")
            }
            IdentityError::Mint { reason } => write!(f, "cannot mint a certificate: {reason}"),
        }
    }
}

impl std::error::Error for IdentityError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IdentityError::Read { source, .. } | IdentityError::Write { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }
}

/// What a node needs to take part in a cluster: the cluster CA's certificate (to check
/// peers), its own certificate chain and its private key.
#[derive(Debug)]
pub struct ClusterIdentity {
    /// The node's name, as its certificate's subject alternative name gives it.
    pub(crate) name: String,
    /// The cluster CA's certificate.
    pub(crate) ca: CertificateDer<'static>,
    /// The node's certificate, then any intermediates.
    pub(crate) chain: Vec<CertificateDer<'static>>,
    /// The node's private key.
    pub(crate) key: PrivateKeyDer<'static>,
}

impl Clone for ClusterIdentity {
    fn clone(&self) -> Self {
        ClusterIdentity {
            name: self.name.clone(),
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl ClusterIdentity {
    /// The node's name (its certificate's subject alternative name).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The cluster CA's certificate.
    pub fn ca_cert(&self) -> &CertificateDer<'static> {
        &self.ca
    }
    /// The node's certificate chain, its own certificate first.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }
    /// The node's private key.
    pub fn private_key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }
}

/// A cluster certificate authority: mints the certificates of the cluster's nodes.
///
/// ```
/// use neptune_runtime::quic::ClusterCa;
///
/// let ca = ClusterCa::generate("example cluster").unwrap();
/// let driver = ca.issue("driver").unwrap();
/// assert_eq!(driver.name(), "driver");
/// assert_eq!(driver.ca_cert(), ca.cert_der());
/// ```
pub struct ClusterCa {
    issuer: Issuer<'static, KeyPair>,
    cert: CertificateDer<'static>,
    /// Whether node certificates carry an authority key identifier: only when the CA
    /// certificate states its own key identifier, so that the two always agree.
    authority_key_id: bool,
}

impl fmt::Debug for ClusterCa {
    // The key stays out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterCa")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

impl ClusterCa {
    /// A new CA with a fresh ECDSA P-256 key and a self-signed certificate whose
    /// subject's common name is `common_name`, valid for ten years.
    pub fn generate(common_name: &str) -> Result<ClusterCa, IdentityError> {
        let key = KeyPair::generate().map_err(mint_error)?;
        let now = SystemTime::now();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = ca_key_usages();
        set_validity(&mut params, now - CLOCK_SKEW, now + CA_VALIDITY)?;
        let cert = params.self_signed(&key).map_err(mint_error)?;
        Ok(ClusterCa {
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
            authority_key_id: true,
        })
    }

    /// A certificate and key for the node `node_name`, valid for a year (from a few
    /// minutes ago, for peers whose clocks lag).
    ///
    /// `node_name` becomes the certificate's DNS subject alternative name, so it must be
    /// a valid DNS name (`driver`, `executor-1`); `ca` is reserved for the CA's files.
    pub fn issue(&self, node_name: &str) -> Result<ClusterIdentity, IdentityError> {
        self.issue_for(node_name, DEFAULT_NODE_VALIDITY)
    }

    /// As [`issue`](Self::issue), valid for `validity` from now.
    pub fn issue_for(
        &self,
        node_name: &str,
        validity: Duration,
    ) -> Result<ClusterIdentity, IdentityError> {
        let now = SystemTime::now();
        let not_after = now
            .checked_add(validity)
            .ok_or_else(|| IdentityError::Mint {
                reason: format!("a validity of {validity:?} ends too far in the future"),
            })?;
        self.issue_with_validity(node_name, now - CLOCK_SKEW, not_after)
    }

    /// As [`issue`](Self::issue), valid from `not_before` to `not_after` exactly (to
    /// make an expired certificate in a test, for instance).
    pub fn issue_with_validity(
        &self,
        node_name: &str,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<ClusterIdentity, IdentityError> {
        check_node_name(node_name)?;
        let key = KeyPair::generate().map_err(mint_error)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, node_name);
        let dns = node_name.try_into().map_err(mint_error)?;
        params.subject_alt_names = vec![SanType::DnsName(dns)];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // Every node both accepts connections and makes them, with the same certificate.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = self.authority_key_id;
        set_validity(&mut params, not_before, not_after)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(mint_error)?;
        Ok(ClusterIdentity {
            name: node_name.to_owned(),
            ca: self.cert.clone(),
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }

    /// The CA's certificate, DER-encoded.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The CA's certificate, PEM-encoded (what `ca.pem` holds).
    pub fn cert_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.cert)
    }

    /// Writes `DIR/ca.pem` and `DIR/ca.key` (readable by its owner only), creating `dir`
    /// if needed, and returns the paths written. Refuses, writing nothing, if either file
    /// exists: replacing a CA orphans every certificate it issued.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, IdentityError> {
        self.save_with(dir.as_ref(), false)
    }

    /// As [`save`](Self::save), replacing the files if they exist.
    pub fn save_replacing(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, IdentityError> {
        self.save_with(dir.as_ref(), true)
    }

    fn save_with(&self, dir: &Path, replace: bool) -> Result<Vec<PathBuf>, IdentityError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let files = [
            (&cert_path, self.cert_pem(), Secrecy::Public),
            (
                &key_path,
                self.issuer.key().serialize_pem(),
                Secrecy::Secret,
            ),
        ];
        write_files(dir, &files, replace)?;
        Ok(vec![cert_path, key_path])
    }

    /// Loads the CA that [`save`](Self::save) wrote to `dir` (`ca.pem` and `ca.key`,
    /// a PKCS#8 key), checking that the certificate is a currently valid CA and that the
    /// key is its key.
    pub fn load(dir: impl AsRef<Path>) -> Result<ClusterCa, IdentityError> {
        let dir = dir.as_ref();
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert = read_ca_cert(&cert_path)?;
        let key_der = read_key(&key_path)?;
        let parsed = parse_cert(&cert_path, &cert)?;
        check_validity(&cert_path, &parsed, SystemTime::now())?;
        if !parsed.is_ca() {
            return Err(IdentityError::NotACa { path: cert_path });
        }
        check_keys_match(&cert_path, &key_path, &cert, &key_der)?;
        let key = KeyPair::try_from(&key_der).map_err(|err| IdentityError::BadFormat {
            path: key_path.clone(),
            reason: format!(
                "cannot sign with this key ({err}); a PKCS#8 ECDSA, Ed25519 or RSA key is needed"
            ),
        })?;

        let mut params = CertificateParams::default();
        params.distinguished_name = subject_of(&cert_path, &parsed)?;
        params.key_usages = ca_key_usages();
        let own_key_id = parsed
            .iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            });
        let authority_key_id = own_key_id.is_some();
        if let Some(id) = own_key_id {
            params.key_identifier_method = KeyIdMethod::PreSpecified(id);
        }
        let ca = ClusterCa {
            issuer: Issuer::new(params, key),
            cert: cert.clone(),
            authority_key_id,
        };
        ca.check_issuer_name(&cert_path, &parsed)?;
        Ok(ca)
    }

    /// Checks that the certificates this CA signs name it as their issuer exactly as its
    /// certificate names its subject: chain building compares the two byte for byte, and
    /// the subject is rebuilt from the parsed certificate.
    fn check_issuer_name(
        &self,
        path: &Path,
        parsed: &X509Certificate<'_>,
    ) -> Result<(), IdentityError> {
        // Signing a throwaway certificate for the CA's own key needs no new key.
        let probe = CertificateParams::default()
            .signed_by(self.issuer.key(), &self.issuer)
            .map_err(mint_error)?;
        let probe = parse_cert(path, probe.der())?;
        if probe.issuer().as_raw() == parsed.subject().as_raw() {
            Ok(())
        } else {
            Err(IdentityError::BadFormat {
                path: path.to_owned(),
                reason: "the CA certificate's subject uses an encoding this CA cannot reproduce \
                         in the certificates it issues"
                    .to_owned(),
            })
        }
    }
}

impl ClusterIdentity {
    /// Writes `DIR/NAME.pem` (the certificate chain) and `DIR/NAME.key` (readable by
    /// its owner only), and `DIR/ca.pem` if it is not there yet, creating `dir` if
    /// needed; returns the paths written. Refuses, writing nothing, if `NAME.pem` or
    /// `NAME.key` exists, or if `ca.pem` holds another CA's certificate.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, IdentityError> {
        self.save_with(dir.as_ref(), false)
    }

    /// As [`save`](Self::save), replacing `NAME.pem` and `NAME.key` if they exist (a
    /// renewed certificate). A different `ca.pem` is still refused.
    pub fn save_replacing(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, IdentityError> {
        self.save_with(dir.as_ref(), true)
    }

    fn save_with(&self, dir: &Path, replace: bool) -> Result<Vec<PathBuf>, IdentityError> {
        check_node_name(&self.name)?;
        let ca_path = dir.join(CA_CERT_FILE);
        let cert_path = dir.join(format!("{}.pem", self.name));
        let key_path = dir.join(format!("{}.key", self.name));
        let key_label = match &self.key {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        let chain_pem: String = self
            .chain
            .iter()
            .map(|cert| pem_encode("CERTIFICATE", cert))
            .collect();
        let mut files = vec![
            (&cert_path, chain_pem, Secrecy::Public),
            (
                &key_path,
                pem_encode(key_label, self.key.secret_der()),
                Secrecy::Secret,
            ),
        ];
        let has_ca = match fs::symlink_metadata(&ca_path) {
            Ok(_) => {
                // Usually the CA's own directory: its certificate is already there.
                if read_ca_cert(&ca_path)? != self.ca {
                    return Err(IdentityError::CaConflict { path: ca_path });
                }
                true
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(IdentityError::Read {
                    path: ca_path,
                    source,
                })
            }
        };
        if !has_ca {
            files.push((
                &ca_path,
                pem_encode("CERTIFICATE", &self.ca),
                Secrecy::Public,
            ));
        }
        write_files(dir, &files, replace)?;
        Ok(files.into_iter().map(|(path, ..)| path.clone()).collect())
    }

    /// Loads a node's identity from the cluster CA's certificate, the node's
    /// certificate chain (its own certificate first) and its private key, all PEM, and
    /// checks it: the key matches the certificate, the certificate is currently valid,
    /// names a node (its first DNS subject alternative name) and is signed by the CA.
    pub fn load(
        ca_pem: impl AsRef<Path>,
        cert_pem: impl AsRef<Path>,
        key_pem: impl AsRef<Path>,
    ) -> Result<ClusterIdentity, IdentityError> {
        load_at(
            ca_pem.as_ref(),
            cert_pem.as_ref(),
            key_pem.as_ref(),
            SystemTime::now(),
        )
    }

    /// Loads the identity of node `name` from `dir` (`ca.pem`, `NAME.pem`, `NAME.key`,
    /// as [`save`](Self::save) writes them), checked as [`load`](Self::load) does, and
    /// that the certificate is `name`'s.
    pub fn from_dir(dir: impl AsRef<Path>, name: &str) -> Result<ClusterIdentity, IdentityError> {
        check_node_name(name)?;
        let dir = dir.as_ref();
        let cert_path = dir.join(format!("{name}.pem"));
        let identity = ClusterIdentity::load(
            dir.join(CA_CERT_FILE),
            &cert_path,
            dir.join(format!("{name}.key")),
        )?;
        if identity.name != name {
            return Err(IdentityError::NameMismatch {
                path: cert_path,
                expected: name.to_owned(),
                found: identity.name,
            });
        }
        Ok(identity)
    }
}

fn load_at(
    ca_path: &Path,
    cert_path: &Path,
    key_path: &Path,
    now: SystemTime,
) -> Result<ClusterIdentity, IdentityError> {
    let ca = read_ca_cert(ca_path)?;
    let chain = read_certs(cert_path)?;
    let key = read_key(key_path)?;
    let parsed_ca = parse_cert(ca_path, &ca)?;
    check_validity(ca_path, &parsed_ca, now)?;
    let leaf = parse_cert(cert_path, &chain[0])?;
    for cert in &chain[1..] {
        parse_cert(cert_path, cert)?;
    }
    check_validity(cert_path, &leaf, now)?;
    check_keys_match(cert_path, key_path, &chain[0], &key)?;
    let name = node_name(cert_path, &leaf)?;
    check_signed_by(ca_path, &ca, cert_path, &chain, now)?;
    Ok(ClusterIdentity {
        name,
        ca,
        chain,
        key,
    })
}

/// Whether a file may be read by others.
#[derive(Clone, Copy, PartialEq)]
enum Secrecy {
    Public,
    Secret,
}

/// Writes each `(path, contents, secrecy)` of `files` into `dir` (created if needed).
/// Unless `replace`, checks first that none exists, so that a refusal writes nothing.
fn write_files(
    dir: &Path,
    files: &[(&PathBuf, String, Secrecy)],
    replace: bool,
) -> Result<(), IdentityError> {
    fs::create_dir_all(dir).map_err(|source| IdentityError::Write {
        path: dir.to_owned(),
        source,
    })?;
    if !replace {
        if let Some((path, ..)) = files.iter().find(|(path, ..)| path.exists()) {
            return Err(IdentityError::AlreadyExists {
                path: (*path).clone(),
            });
        }
    }
    for (path, contents, secrecy) in files {
        write_file(path, contents, *secrecy, replace)?;
    }
    Ok(())
}

fn write_file(
    path: &Path,
    contents: &str,
    secrecy: Secrecy,
    replace: bool,
) -> Result<(), IdentityError> {
    use std::io::Write;
    let write_error = |source| IdentityError::Write {
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        // Also catches a file created since `write_files` looked.
        options.create_new(true);
    }
    #[cfg(unix)]
    if secrecy == Secrecy::Secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            IdentityError::AlreadyExists {
                path: path.to_owned(),
            }
        } else {
            write_error(source)
        }
    })?;
    // A replaced key file keeps its old mode unless tightened before the key goes in.
    #[cfg(unix)]
    if secrecy == Secrecy::Secret {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(write_error)?;
    }
    #[cfg(not(unix))]
    let _ = secrecy;
    file.write_all(contents.as_bytes()).map_err(write_error)?;
    file.sync_all().map_err(write_error)
}

/// The PEM sections of the file at `path`.
fn read_pem(path: &Path) -> Result<Vec<(SectionKind, Vec<u8>)>, IdentityError> {
    let bytes = fs::read(path).map_err(|source| IdentityError::Read {
        path: path.to_owned(),
        source,
    })?;
    let sections = <(SectionKind, Vec<u8>)>::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| IdentityError::NotPem {
            path: path.to_owned(),
            reason: err.to_string(),
        })?;
    if sections.is_empty() {
        return Err(IdentityError::NotPem {
            path: path.to_owned(),
            reason: "no -----BEGIN ...----- section".to_owned(),
        });
    }
    Ok(sections)
}

/// The certificates in the PEM file at `path`, in order; at least one.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, IdentityError> {
    let certs: Vec<_> = read_pem(path)?
        .into_iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der))
        .collect();
    if certs.is_empty() {
        return Err(IdentityError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The one certificate in the CA certificate file at `path`.
fn read_ca_cert(path: &Path) -> Result<CertificateDer<'static>, IdentityError> {
    let mut certs = read_certs(path)?;
    if certs.len() > 1 {
        return Err(IdentityError::BadFormat {
            path: path.to_owned(),
            reason: format!(
                "holds {} certificates; a cluster CA file holds exactly one",
                certs.len()
            ),
        });
    }
    Ok(certs.remove(0))
}

/// The one private key in the PEM file at `path`.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, IdentityError> {
    let mut keys: Vec<_> = read_pem(path)?
        .into_iter()
        .filter_map(|(kind, der)| PrivateKeyDer::from_pem(kind, der))
        .collect();
    match keys.len() {
        0 => Err(IdentityError::NoPrivateKey {
            path: path.to_owned(),
        }),
        1 => Ok(keys.remove(0)),
        n => Err(IdentityError::BadFormat {
            path: path.to_owned(),
            reason: format!("holds {n} private keys; a key file holds exactly one"),
        }),
    }
}

fn parse_cert<'a>(
    path: &Path,
    der: &'a CertificateDer<'_>,
) -> Result<X509Certificate<'a>, IdentityError> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(IdentityError::BadFormat {
            path: path.to_owned(),
            reason: "a certificate is followed by stray bytes".to_owned(),
        }),
        Err(err) => Err(IdentityError::BadFormat {
            path: path.to_owned(),
            reason: format!("a certificate does not parse as X.509: {err}"),
        }),
    }
}

fn check_validity(
    path: &Path,
    cert: &X509Certificate<'_>,
    now: SystemTime,
) -> Result<(), IdentityError> {
    let validity = cert.validity();
    let now = asn1_time(now);
    if now < validity.not_before {
        Err(IdentityError::NotYetValid {
            path: path.to_owned(),
            not_before: validity.not_before.to_string(),
        })
    } else if now > validity.not_after {
        Err(IdentityError::Expired {
            path: path.to_owned(),
            not_after: validity.not_after.to_string(),
        })
    } else {
        Ok(())
    }
}

fn asn1_time(t: SystemTime) -> ASN1Time {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().min(LAST_X509_SECOND));
    // In range by the clamp above (and `LAST_X509_SECOND` fits an i64).
    ASN1Time::from_timestamp(secs as i64).unwrap_or_else(|_| ASN1Time::now())
}

/// Checks with rustls, as a handshake would, that `key` is the key of `cert`.
fn check_keys_match(
    cert_path: &Path,
    key_path: &Path,
    cert: &CertificateDer<'static>,
    key: &PrivateKeyDer<'static>,
) -> Result<(), IdentityError> {
    let signing_key = super::tls::provider()
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|err| IdentityError::BadFormat {
            path: key_path.to_owned(),
            reason: format!("unusable private key: {err}"),
        })?;
    match rustls::sign::CertifiedKey::new(vec![cert.clone()], signing_key).keys_match() {
        // `Unknown`: the key cannot tell its public half; the handshake will tell.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(()),
        Err(rustls::Error::InconsistentKeys(_)) => Err(IdentityError::KeyMismatch {
            key: key_path.to_owned(),
            cert: cert_path.to_owned(),
        }),
        Err(err) => Err(IdentityError::BadFormat {
            path: cert_path.to_owned(),
            reason: err.to_string(),
        }),
    }
}

/// Checks the chain as a cluster listener checks a client (so it also needs the
/// client-authentication usage).
fn check_signed_by(
    ca_path: &Path,
    ca: &CertificateDer<'static>,
    cert_path: &Path,
    chain: &[CertificateDer<'static>],
    now: SystemTime,
) -> Result<(), IdentityError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(ca.clone())
        .map_err(|err| IdentityError::BadFormat {
            path: ca_path.to_owned(),
            reason: format!("unusable as a trust anchor: {err}"),
        })?;
    let provider = super::tls::provider();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|err| IdentityError::BadFormat {
                path: ca_path.to_owned(),
                reason: format!("unusable as a trust anchor: {err}"),
            })?;
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    match verifier.verify_client_cert(
        &chain[0],
        &chain[1..],
        UnixTime::since_unix_epoch(since_epoch),
    ) {
        Ok(_) => Ok(()),
        Err(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        )) => Err(IdentityError::NotSignedByCa {
            cert: cert_path.to_owned(),
            ca: ca_path.to_owned(),
        }),
        Err(err) => Err(IdentityError::Untrusted {
            cert: cert_path.to_owned(),
            ca: ca_path.to_owned(),
            reason: err.to_string(),
        }),
    }
}

/// The node name of a certificate: its first DNS subject alternative name (as
/// [`super::tls`] reads a peer's), which must be a valid node name.
fn node_name(path: &Path, cert: &X509Certificate<'_>) -> Result<String, IdentityError> {
    let san = cert
        .subject_alternative_name()
        .map_err(|err| IdentityError::BadFormat {
            path: path.to_owned(),
            reason: format!("malformed subject alternative name: {err}"),
        })?;
    let name = san.and_then(|san| first_dns_name(san.value));
    let name = name.ok_or_else(|| IdentityError::NoNodeName {
        path: path.to_owned(),
    })?;
    check_node_name(&name).map_err(|err| IdentityError::BadFormat {
        path: path.to_owned(),
        reason: err.to_string(),
    })?;
    Ok(name)
}

/// The first DNS name among a certificate's subject alternative names: what a node's
/// name is, here and when [`super::tls`] reads a peer's.
pub(super) fn first_dns_name(
    san: &x509_parser::extensions::SubjectAlternativeName<'_>,
) -> Option<String> {
    san.general_names.iter().find_map(|name| match name {
        GeneralName::DNSName(dns) => Some((*dns).to_owned()),
        _ => None,
    })
}

/// Node names become DNS names in certificates and file names on disk.
fn check_node_name(name: &str) -> Result<(), IdentityError> {
    let invalid = |reason: &str| IdentityError::InvalidName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if DnsName::try_from(name).is_err() {
        return Err(invalid(
            "not a DNS name (letters, digits, '-' and '_' in dot-separated labels)",
        ));
    }
    // `ca.pem` is the CA's certificate: a node called `ca` would overwrite it.
    if name.eq_ignore_ascii_case("ca") {
        return Err(invalid("\"ca\" is reserved for the cluster CA's files"));
    }
    Ok(())
}

/// Rebuilds a certificate's subject in rcgen's terms (rcgen cannot read certificates
/// without its `x509-parser` feature). Only what rcgen can write back identically is
/// accepted; [`ClusterCa::check_issuer_name`] checks the result.
fn subject_of(path: &Path, cert: &X509Certificate<'_>) -> Result<DistinguishedName, IdentityError> {
    let unsupported = |what: String| IdentityError::BadFormat {
        path: path.to_owned(),
        reason: format!("the CA certificate's subject {what}, which this CA cannot sign with"),
    };
    let mut dn = DistinguishedName::new();
    for rdn in cert.subject().iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err(unsupported("has a multi-valued component".to_owned()));
        };
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or_else(|| unsupported(format!("has an attribute type {}", attr.attr_type())))?
            .collect();
        let text = attr.as_str().map_err(|_| {
            unsupported(format!(
                "has a {:?} attribute value",
                attr.attr_value().tag()
            ))
        })?;
        let value = match attr.attr_value().tag() {
            Tag::Utf8String => DnValue::Utf8String(text.to_owned()),
            Tag::PrintableString => DnValue::PrintableString(
                text.try_into()
                    .map_err(|_| unsupported(format!("has a bad PrintableString {text:?}")))?,
            ),
            Tag::Ia5String => DnValue::Ia5String(
                text.try_into()
                    .map_err(|_| unsupported(format!("has a bad IA5String {text:?}")))?,
            ),
            tag => return Err(unsupported(format!("has a {tag:?} attribute value"))),
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    Ok(dn)
}

fn ca_key_usages() -> Vec<KeyUsagePurpose> {
    vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ]
}

/// Sets the validity period, refusing what X.509 cannot express (and what would
/// overflow the date arithmetic).
fn set_validity(
    params: &mut CertificateParams,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<(), IdentityError> {
    let in_range = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .is_ok_and(|d| d.as_secs() <= LAST_X509_SECOND)
    };
    if !in_range(not_before) || !in_range(not_after) {
        return Err(IdentityError::Mint {
            reason: "validity must lie between 1970 and 9999".to_owned(),
        });
    }
    if not_after <= not_before {
        return Err(IdentityError::Mint {
            reason: "the validity period ends before it begins".to_owned(),
        });
    }
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    Ok(())
}

fn mint_error(err: rcgen::Error) -> IdentityError {
    IdentityError::Mint {
        reason: err.to_string(),
    }
}

/// PEM-encodes `der` under `label` (RFC 7468: base64 in 64-column lines), with Unix
/// line endings.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use neptune_support::temp::TempDir;
    use x509_parser::extensions::ExtendedKeyUsage;

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    /// Asserts that `err` displays a message containing `file`'s name.
    fn names(err: &IdentityError, file: &Path) {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            err.to_string().contains(name),
            "{err:?} does not name {name}"
        );
    }

    #[test]
    fn identity_round_trips_through_its_files() {
        let dir = TempDir::new("round-trip");
        let ca = ClusterCa::generate("test cluster").unwrap();
        let ca_files = ca.save(dir.path()).unwrap();
        assert_eq!(
            ca_files,
            [dir.path().join("ca.pem"), dir.path().join("ca.key")]
        );
        let node = ca.issue("executor-1").unwrap();
        // The CA's directory already has ca.pem: only the node's files are written.
        let written = node.save(dir.path()).unwrap();
        assert_eq!(
            written,
            [
                dir.path().join("executor-1.pem"),
                dir.path().join("executor-1.key")
            ]
        );
        let loaded = ClusterIdentity::from_dir(dir.path(), "executor-1").unwrap();
        assert_eq!(loaded.name(), "executor-1");
        assert_eq!(loaded.ca_cert(), ca.cert_der());
        assert_eq!(loaded.cert_chain(), node.cert_chain());
        assert_eq!(
            loaded.private_key().secret_der(),
            node.private_key().secret_der()
        );

        // Into a directory of its own, the identity brings the CA's certificate along.
        let elsewhere = TempDir::new("round-trip-node");
        let written = node.save(elsewhere.path()).unwrap();
        assert_eq!(written.len(), 3);
        assert!(written.contains(&elsewhere.path().join("ca.pem")));
        let loaded = ClusterIdentity::from_dir(elsewhere.path(), "executor-1").unwrap();
        assert_eq!(loaded.cert_chain(), node.cert_chain());

        // The reloaded CA issues certificates that load against the saved ca.pem.
        let reloaded = ClusterCa::load(dir.path()).unwrap();
        assert_eq!(reloaded.cert_der(), ca.cert_der());
        reloaded.issue("driver").unwrap().save(dir.path()).unwrap();
        let driver = ClusterIdentity::from_dir(dir.path(), "driver").unwrap();
        assert_eq!(driver.name(), "driver");
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("modes");
        let ca = ClusterCa::generate("test cluster").unwrap();
        ca.save(dir.path()).unwrap();
        let node = ca.issue("driver").unwrap();
        let key = dir.path().join("driver.key");
        // A key file replaced over a world-readable one is tightened too.
        fs::write(&key, "old").unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        node.save_replacing(dir.path()).unwrap();
        for file in ["ca.key", "driver.key"] {
            let mode = fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    #[test]
    fn saving_refuses_to_replace_files_unless_asked() {
        let dir = TempDir::new("overwrite");
        let ca = ClusterCa::generate("first").unwrap();
        ca.save(dir.path()).unwrap();
        let other = ClusterCa::generate("second").unwrap();
        let err = other.save(dir.path()).unwrap_err();
        assert!(
            matches!(err, IdentityError::AlreadyExists { .. }),
            "{err:?}"
        );
        names(&err, Path::new("ca.pem"));
        assert_eq!(
            ClusterCa::load(dir.path()).unwrap().cert_der(),
            ca.cert_der()
        );

        // Only ca.key left: still refused, and ca.pem is not written either.
        fs::remove_file(dir.path().join("ca.pem")).unwrap();
        let err = other.save(dir.path()).unwrap_err();
        assert!(
            matches!(err, IdentityError::AlreadyExists { .. }),
            "{err:?}"
        );
        names(&err, Path::new("ca.key"));
        assert!(!dir.path().join("ca.pem").exists());

        other.save_replacing(dir.path()).unwrap();
        assert_eq!(
            ClusterCa::load(dir.path()).unwrap().cert_der(),
            other.cert_der()
        );

        let node = other.issue("driver").unwrap();
        node.save(dir.path()).unwrap();
        let renewed = other.issue("driver").unwrap();
        let err = renewed.save(dir.path()).unwrap_err();
        assert!(
            matches!(err, IdentityError::AlreadyExists { .. }),
            "{err:?}"
        );
        renewed.save_replacing(dir.path()).unwrap();
        let loaded = ClusterIdentity::from_dir(dir.path(), "driver").unwrap();
        assert_eq!(loaded.cert_chain(), renewed.cert_chain());

        // A node of another cluster never replaces this directory's CA certificate.
        let foreign = ca.issue("executor-1").unwrap();
        let err = foreign.save_replacing(dir.path()).unwrap_err();
        assert!(matches!(err, IdentityError::CaConflict { .. }), "{err:?}");
        names(&err, Path::new("ca.pem"));
        assert!(!dir.path().join("executor-1.pem").exists());
    }

    #[test]
    fn issued_certificates_name_the_node_and_allow_both_tls_roles() {
        let ca = ClusterCa::generate("test cluster").unwrap();
        let node = ca.issue("executor-1").unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&node.cert_chain()[0]).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(
            san.value.general_names,
            [GeneralName::DNSName("executor-1")]
        );
        let eku: &ExtendedKeyUsage<'_> = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth, "{eku:?}");
        assert!(!cert.is_ca());
        let (_, ca_cert) = x509_parser::parse_x509_certificate(ca.cert_der()).unwrap();
        assert!(ca_cert.is_ca());
        assert!(ca_cert.key_usage().unwrap().unwrap().value.key_cert_sign());
        assert_eq!(cert.issuer().as_raw(), ca_cert.subject().as_raw());
        // Valid from a little before now, for a year.
        let now = ASN1Time::now().timestamp();
        let validity = cert.validity();
        assert!(validity.not_before.timestamp() < now);
        let year = DEFAULT_NODE_VALIDITY.as_secs() as i64;
        assert!((validity.not_after.timestamp() - now - year).abs() < 3600);
    }

    #[test]
    fn bad_node_names_are_refused() {
        let ca = ClusterCa::generate("test cluster").unwrap();
        for name in ["", "ca", "a/b", "../x", "has space", "-x"] {
            let err = ca.issue(name).unwrap_err();
            assert!(
                matches!(err, IdentityError::InvalidName { .. }),
                "{name}: {err:?}"
            );
        }
    }

    /// A CA saved in its own directory, and node `name`'s identity in another.
    fn cluster(name: &str) -> (ClusterCa, TempDir, TempDir) {
        let ca = ClusterCa::generate("test cluster").unwrap();
        let ca_dir = TempDir::new("ca");
        ca.save(ca_dir.path()).unwrap();
        let node_dir = TempDir::new("node");
        ca.issue(name).unwrap().save(node_dir.path()).unwrap();
        (ca, ca_dir, node_dir)
    }

    #[test]
    fn missing_files_are_named() {
        let (_ca, _ca_dir, dir) = cluster("driver");
        for file in ["ca.pem", "driver.pem", "driver.key"] {
            let path = dir.path().join(file);
            let saved = fs::read(&path).unwrap();
            fs::remove_file(&path).unwrap();
            let err = ClusterIdentity::from_dir(dir.path(), "driver").unwrap_err();
            match &err {
                IdentityError::Read { path: p, source } => {
                    assert_eq!(p, &path);
                    assert_eq!(source.kind(), io::ErrorKind::NotFound);
                }
                _ => panic!("{file}: {err:?}"),
            }
            names(&err, &path);
            fs::write(&path, saved).unwrap();
        }
        let err = ClusterCa::load(dir.path().join("nowhere")).unwrap_err();
        assert!(matches!(err, IdentityError::Read { .. }), "{err:?}");
        names(&err, Path::new("ca.pem"));
    }

    #[test]
    fn files_of_the_wrong_format_are_named() {
        let (ca, _ca_dir, dir) = cluster("driver");
        let cert = dir.path().join("driver.pem");
        let key = dir.path().join("driver.key");
        let load = || ClusterIdentity::from_dir(dir.path(), "driver").unwrap_err();
        let cert_pem = fs::read_to_string(&cert).unwrap();
        let key_pem = fs::read_to_string(&key).unwrap();

        fs::write(&cert, "just some text\n").unwrap();
        let err = load();
        assert!(matches!(err, IdentityError::NotPem { .. }), "{err:?}");
        names(&err, &cert);

        fs::write(&cert, "-----BEGIN CERTIFICATE-----\nAAA@@\n").unwrap();
        let err = load();
        assert!(matches!(err, IdentityError::NotPem { .. }), "{err:?}");
        names(&err, &cert);

        // A key where the certificate should be.
        fs::write(&cert, &key_pem).unwrap();
        let err = load();
        assert!(
            matches!(err, IdentityError::NoCertificate { .. }),
            "{err:?}"
        );
        names(&err, &cert);

        fs::write(&cert, pem_encode("CERTIFICATE", b"not DER")).unwrap();
        let err = load();
        assert!(matches!(err, IdentityError::BadFormat { .. }), "{err:?}");
        names(&err, &cert);
        fs::write(&cert, &cert_pem).unwrap();

        // A certificate where the key should be.
        fs::write(&key, &cert_pem).unwrap();
        let err = load();
        assert!(matches!(err, IdentityError::NoPrivateKey { .. }), "{err:?}");
        names(&err, &key);

        fs::write(&key, pem_encode("PRIVATE KEY", b"not a key")).unwrap();
        let err = load();
        assert!(matches!(err, IdentityError::BadFormat { .. }), "{err:?}");
        names(&err, &key);

        // The CA's key file is checked the same way.
        let ca_dir = TempDir::new("ca-format");
        ca.save(ca_dir.path()).unwrap();
        fs::write(ca_dir.path().join("ca.key"), "garbage").unwrap();
        let err = ClusterCa::load(ca_dir.path()).unwrap_err();
        assert!(matches!(err, IdentityError::NotPem { .. }), "{err:?}");
        names(&err, Path::new("ca.key"));
    }

    #[test]
    fn a_key_of_another_certificate_is_named() {
        let (ca, ca_dir, dir) = cluster("driver");
        let other = ca.issue("executor-1").unwrap();
        let other_dir = TempDir::new("other");
        other.save(other_dir.path()).unwrap();
        let key = other_dir.path().join("executor-1.key");
        let cert = dir.path().join("driver.pem");
        let err = ClusterIdentity::load(dir.path().join("ca.pem"), &cert, &key).unwrap_err();
        match &err {
            IdentityError::KeyMismatch { key: k, cert: c } => {
                assert_eq!((k, c), (&key, &cert));
            }
            _ => panic!("{err:?}"),
        }
        names(&err, &key);
        names(&err, &cert);

        // And the CA's key is checked against the CA's certificate.
        let (_, other_ca_dir, _) = cluster("driver");
        fs::copy(
            other_ca_dir.path().join("ca.key"),
            ca_dir.path().join("ca.key"),
        )
        .unwrap();
        let err = ClusterCa::load(ca_dir.path()).unwrap_err();
        assert!(matches!(err, IdentityError::KeyMismatch { .. }), "{err:?}");
        names(&err, Path::new("ca.key"));
    }

    #[test]
    fn certificates_outside_their_validity_are_named() {
        let ca = ClusterCa::generate("test cluster").unwrap();
        let dir = TempDir::new("validity");
        let now = SystemTime::now();
        ca.issue_with_validity("old", now - 2 * DAY, now - DAY)
            .unwrap()
            .save(dir.path())
            .unwrap();
        ca.issue_with_validity("future", now + DAY, now + 2 * DAY)
            .unwrap()
            .save(dir.path())
            .unwrap();
        let err = ClusterIdentity::from_dir(dir.path(), "old").unwrap_err();
        assert!(matches!(err, IdentityError::Expired { .. }), "{err:?}");
        names(&err, Path::new("old.pem"));
        let err = ClusterIdentity::from_dir(dir.path(), "future").unwrap_err();
        assert!(matches!(err, IdentityError::NotYetValid { .. }), "{err:?}");
        names(&err, Path::new("future.pem"));

        let err = ca
            .issue_with_validity("backwards", now, now - DAY)
            .unwrap_err();
        assert!(matches!(err, IdentityError::Mint { .. }), "{err:?}");
    }

    #[test]
    fn certificates_of_another_ca_are_named() {
        let (_ca, _ca_dir, dir) = cluster("driver");
        // Another CA, with a different name and with the same name.
        for common_name in ["another cluster", "test cluster"] {
            let other = ClusterCa::generate(common_name).unwrap();
            let other_dir = TempDir::new("other-ca");
            other.save(other_dir.path()).unwrap();
            let ca_pem = other_dir.path().join("ca.pem");
            let cert = dir.path().join("driver.pem");
            let err =
                ClusterIdentity::load(&ca_pem, &cert, dir.path().join("driver.key")).unwrap_err();
            match &err {
                IdentityError::NotSignedByCa { cert: c, ca } => {
                    assert_eq!((c, ca), (&cert, &ca_pem));
                }
                _ => panic!("{common_name}: {err:?}"),
            }
            names(&err, &cert);
        }
    }

    #[test]
    fn a_certificate_without_a_node_name_is_named() {
        let ca = ClusterCa::generate("test cluster").unwrap();
        let dir = TempDir::new("no-name");
        ca.save(dir.path()).unwrap();
        // As `issue` makes them, less the subject alternative name.
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_before = (SystemTime::now() - DAY).into();
        params.not_after = (SystemTime::now() + DAY).into();
        let cert = params.signed_by(&key, &ca.issuer).unwrap();
        let cert_path = dir.path().join("anonymous.pem");
        let key_path = dir.path().join("anonymous.key");
        fs::write(&cert_path, cert.pem()).unwrap();
        fs::write(&key_path, key.serialize_pem()).unwrap();
        let err =
            ClusterIdentity::load(dir.path().join("ca.pem"), &cert_path, &key_path).unwrap_err();
        assert!(matches!(err, IdentityError::NoNodeName { .. }), "{err:?}");
        names(&err, &cert_path);
    }

    #[test]
    fn a_certificate_for_another_node_is_named() {
        let (_ca, _ca_dir, dir) = cluster("driver");
        fs::rename(
            dir.path().join("driver.pem"),
            dir.path().join("executor-1.pem"),
        )
        .unwrap();
        fs::rename(
            dir.path().join("driver.key"),
            dir.path().join("executor-1.key"),
        )
        .unwrap();
        let err = ClusterIdentity::from_dir(dir.path(), "executor-1").unwrap_err();
        assert!(matches!(err, IdentityError::NameMismatch { .. }), "{err:?}");
        names(&err, Path::new("executor-1.pem"));
    }

    #[test]
    fn a_ca_file_that_is_no_ca_is_named() {
        let (_ca, _ca_dir, dir) = cluster("driver");
        // The node's own certificate and key, posing as a CA.
        fs::copy(dir.path().join("driver.pem"), dir.path().join("ca.pem")).unwrap();
        fs::copy(dir.path().join("driver.key"), dir.path().join("ca.key")).unwrap();
        let err = ClusterCa::load(dir.path()).unwrap_err();
        assert!(matches!(err, IdentityError::NotACa { .. }), "{err:?}");
        names(&err, Path::new("ca.pem"));
    }

    #[test]
    fn pem_encoding_round_trips() {
        for len in 0..70 {
            let der: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let pem = pem_encode("CERTIFICATE", &der);
            assert!(pem.lines().all(|line| line.len() <= 64));
            let parsed = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            assert_eq!(parsed.as_ref(), der.as_slice(), "{len}");
        }
    }
}
