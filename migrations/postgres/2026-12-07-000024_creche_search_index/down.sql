DROP INDEX referrals_creche_received;
