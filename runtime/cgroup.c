/* cgroup common layer (early skeleton: being implemented, issue 3). */
#include "cgroup.h"

#include <errno.h>
#include <stdlib.h>

int husk_resources_parse(struct json_object *obj, husk_resources **out, husk_err *err)
{
  (void)obj;
  (void)err;
  *out = NULL;
  return 0;
}

void husk_resources_free(husk_resources *r)
{
  free(r);
}

husk_cgroup_layout husk_cgroup_detect(void)
{
  return HUSK_CGROUP_UNKNOWN;
}

int husk_cgroup_create(const husk_cgroup_config *cfg, husk_cgroup **out, husk_err *err)
{
  (void)cfg;
  *out = NULL;
  return husk_errorf(err, ENOSYS, "cgroup create");
}

int husk_cgroup_open(const char *saved_path, husk_cgroup **out, husk_err *err)
{
  (void)saved_path;
  *out = NULL;
  return husk_errorf(err, ENOSYS, "cgroup open");
}

const char *husk_cgroup_path(const husk_cgroup *cg)
{
  (void)cg;
  return NULL;
}

int husk_cgroup_clone_fd(const husk_cgroup *cg)
{
  (void)cg;
  return -1;
}

int husk_cgroup_enter(husk_cgroup *cg, pid_t pid, bool skip_unified, husk_err *err)
{
  (void)cg;
  (void)pid;
  (void)skip_unified;
  return husk_errorf(err, ENOSYS, "cgroup enter");
}

int husk_cgroup_mount(husk_cgroup_layout layout, const char *target, unsigned long flags,
                      husk_err *err)
{
  (void)layout;
  (void)target;
  (void)flags;
  return husk_errorf(err, ENOSYS, "cgroup mount");
}

int husk_cgroup_destroy(husk_cgroup *cg, husk_err *err)
{
  (void)cg;
  (void)err;
  return 0;
}

int husk_cgroup_update(husk_cgroup *cg, const husk_resources *r, husk_err *err)
{
  (void)cg;
  (void)r;
  return husk_errorf(err, ENOSYS, "cgroup update");
}

int husk_cgroup_freeze(husk_cgroup *cg, bool frozen, husk_err *err)
{
  (void)cg;
  (void)frozen;
  return husk_errorf(err, ENOSYS, "cgroup freeze");
}

bool husk_cgroup_is_frozen(husk_cgroup *cg)
{
  (void)cg;
  return false;
}

int husk_cgroup_pids(husk_cgroup *cg, pid_t **pids, size_t *n, husk_err *err)
{
  (void)cg;
  *pids = NULL;
  *n = 0;
  return husk_errorf(err, ENOSYS, "cgroup pids");
}

int husk_cgroup_stats(husk_cgroup *cg, struct json_object **out, husk_err *err)
{
  (void)cg;
  *out = NULL;
  return husk_errorf(err, ENOSYS, "cgroup stats");
}

void husk_cgroup_free(husk_cgroup *cg)
{
  (void)cg;
}
