import type { ApiRouter } from '../../platform/http/api-router';
import type { UserService } from './user-service';

export function registerUserRoutes(api: ApiRouter, users: UserService) {
  api.get('/me', { access: { anyAuthenticated: true }, summary: 'The signed-in user and their roles' }, ({ principal }) => ({
    id: principal.userId,
    name: principal.name,
    email: principal.email,
    roles: principal.roles,
    clientId: principal.clientId,
  }));

  api.get('/users', { access: { roles: ['admin'] }, summary: 'All users with their active roles' }, () => users.listUsers());

}
