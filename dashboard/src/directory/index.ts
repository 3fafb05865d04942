// The directory's pages, for the shell's routes: `#/users`, `#/users/{id}`, `#/organizations`,
// `#/organizations/{id}`, `#/applications`, `#/applications/{id}`, `#/apis`, `#/roles`,
// `#/keys`, `#/audit`.

export { AppPage } from "./app";
export { ApisPage } from "./apis";
export { AppsPage } from "./apps";
export { AuditPage } from "./audit";
export { KeysPage } from "./keys";
export { OrgPage } from "./org";
export { OrgsPage } from "./orgs";
export { RolesPage } from "./roles";
export { UserPage } from "./user";
export { UsersPage } from "./users";
