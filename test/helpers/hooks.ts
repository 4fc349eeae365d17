import { closeTestStores } from './stores.js';

// Every run cleans up after itself, so runs can follow each other on one machine.
export const mochaHooks = {
  async afterAll() {
    await closeTestStores();
  },
};
