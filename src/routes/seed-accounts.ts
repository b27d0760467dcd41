// The accounts the seed documents' examples log in with: one per seed document, with that document's
// roles, and passwords as the seeds show them. The OpenAPI examples (seed-examples.ts) are played by
// them, and the demo seed (src/demo/) creates them, so every documented example works as written.

export interface SeedAccount {
  seed: string
  email: string
  password: string
  name: string
  phone?: string
  /** In order: the first is the default role at login. */
  roles: string[]
}

export const SEED_ACCOUNTS: SeedAccount[] = [
  { seed: '000_e6b138e43c6e01bf', email: 'manager@rakcha.example.com', password: 's3cur3P@ssword', name: 'Rakcha Manager', roles: ['cinema_manager', 'client', 'admin'] },
  { seed: '001_7e032ece14cb5cad', email: 'user@rakcha.example.com', password: 'your-password', name: 'Rakcha User', roles: ['client'] },
  { seed: '002_d90e04e9fff4fbbb', email: 'john.doe@example.com', password: 'SecurePass123!', name: 'John Doe', roles: ['user'] },
  { seed: '003_717b62ec866c72f5', email: 'customer.seller@example.com', password: 'SecurePass123!', name: 'Customer Seller', roles: ['Customer', 'Seller'] },
  { seed: '004_c23378eb9b8a044f', email: 'admin@isp.example.com', password: 'your-password', name: 'Admin User', phone: '01712345678', roles: ['admin', 'staff', 'reseller'] },
]

/** The permissions of each role the seed accounts hold. */
export const SEED_PERMISSIONS: Record<string, string[]> = {
  admin: ['subscribers.view', 'subscribers.create', 'subscribers.update', 'packages.view', 'packages.manage', 'users.manage', 'cinemas.manage', 'films.manage', 'products.manage'],
  staff: ['subscribers.view', 'subscribers.create', 'packages.view'],
  reseller: ['subscribers.view', 'packages.view'],
  cinema_manager: ['cinemas.manage_own', 'schedules.manage'],
  client: ['content.browse', 'products.purchase'],
  user: ['bookings.create', 'bookings.view'],
  Customer: ['orders.create', 'orders.view'],
  Seller: ['products.sell', 'orders.fulfil'],
}
