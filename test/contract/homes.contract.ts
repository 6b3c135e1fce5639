import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../functions/core/errors.ts';
import type { Homes } from '../../functions/core/ports.ts';

/**
 * What every Homes adapter (DirHomes locally, EfsHomes on AWS) and the fake core's unit
 * tests use (FakeHomes) must do: one private home per user, made once however often or
 * concurrently it is asked for, found again by the reference an earlier session recorded,
 * and never for a name outside the username rule (which could name another user's home
 * or a path outside the homes).
 */
export function describeHomesContract(name: string, make: () => Promise<Homes>): void {
  describe(`Homes contract: ${name}`, () => {
    it('gives a user a home and the same one every time', async () => {
      const homes = await make();
      const first = await homes.ensure('alice');
      expect(first).toEqual(expect.any(String));
      expect(first).not.toBe('');
      expect(await homes.ensure('alice')).toBe(first);
    });

    it('gives every user a home of their own, near-miss names included', async () => {
      const homes = await make();
      const refs = await Promise.all(['alice', 'alice2', 'ali', 'bob'].map((user) => homes.ensure(user)));
      expect(new Set(refs).size).toBe(4);
    });

    it('makes one home when the first starts of a user race', async () => {
      const homes = await make();
      const refs = await Promise.all([1, 2, 3, 4].map(() => homes.ensure('carol')));
      expect(new Set(refs).size).toBe(1);
      expect(await homes.ensure('carol')).toBe(refs[0]);
    });

    it('finds the home again from the reference an earlier session recorded', async () => {
      const homes = await make();
      const known = await homes.ensure('dave');
      await homes.ensure('erin');
      expect(await homes.ensure('dave', known)).toBe(known);
    });

    it("does not hand out another user's home for their recorded reference", async () => {
      const homes = await make();
      const bobs = await homes.ensure('bob');
      const alices = await homes.ensure('alice', bobs);
      expect(alices).not.toBe(bobs);
      expect(await homes.ensure('alice')).toBe(alices);
    });

    it('refuses a name outside the username rule, making nothing', async () => {
      const homes = await make();
      for (const user of ['../bob', 'bob/..', '', 'a_b', '-x', 'x'.repeat(33)])
        await expect(homes.ensure(user), JSON.stringify(user)).rejects.toBeInstanceOf(ValidationError);
    });
  });
}
