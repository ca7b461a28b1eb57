/* release/proxy-backup: the reverse proxy's own state (Caddy's data directory with its
 * certificates and ACME account keys, and the ACME settings) archived in backup/'s format
 * and restored from it, so that a restored proxy serves its hosts without new orders.
 * Library code: it never prints. */
#ifndef ZP_RELEASE_PROXY_BACKUP_H
#define ZP_RELEASE_PROXY_BACKUP_H

#include "../backup/backup.h"
#include "../engine/engine.h"
#include "../util/util.h"

/* The project name a proxy archive's manifest carries (restore refuses any other). */
#define RELEASE_PROXY_ARCHIVE_PROJECT "zpanel-proxy"

/* Archive <state_dir>/proxy (its data directory, acme.json and the ACME server's root when
 * they exist) to output (.tar, .tar.gz, .tar.zst: the name picks), as backup_create
 * writes: a temporary file renamed into place, never a partial archive. The proxy may run
 * (Caddy writes certificates whole, through temporary files). *ret_manifest (may be NULL)
 * gets what was written. */
int release_proxy_backup(struct engine *e, const char *state_dir, const char *output,
                         backup_progress_fn progress, void *ud,
                         struct backup_manifest *ret_manifest, struct zp_err *err);

/* Restore the proxy archive at path into <state_dir>/proxy after backup_verify accepted it
 * and its manifest names RELEASE_PROXY_ARCHIVE_PROJECT. Refused while the proxy runs
 * (ZP_E_CONFLICT: `zpanel proxy down` first), so that Caddy never sees half a tree. */
int release_proxy_restore(struct engine *e, const char *state_dir, const char *path,
                          backup_progress_fn progress, void *ud, struct zp_err *err);

#endif
