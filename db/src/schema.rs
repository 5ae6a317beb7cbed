// The diesel schema, written to match migrations/{sqlite,postgres}; the test
// `schema_matches_migrations` compares it with both backends' catalogues.

diesel::table! {
    organizations (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        departement -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        oidc_required -> Bool,
        siret -> Nullable<Text>,
    }
}

diesel::table! {
    creches (id) {
        id -> Text,
        operator_id -> Text,
        name -> Text,
        address -> Text,
        postal_code -> Text,
        commune -> Text,
        opening_hours -> Text,
        escalation_email -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        phone -> Nullable<Text>,
        auto_acknowledgment -> Bool,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        organization_id -> Text,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
        credentials_changed_at -> Nullable<Timestamp>,
        credentials_version -> Integer,
    }
}

diesel::table! {
    creche_coordinators (creche_id, user_id) {
        creche_id -> Text,
        user_id -> Text,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        secret_hash -> Text,
        label -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    reference_counters (departement, year) {
        departement -> Text,
        year -> Integer,
        last_value -> Integer,
    }
}

diesel::table! {
    referrals (id) {
        id -> Text,
        reference -> Text,
        prescriber_organization_id -> Text,
        creche_id -> Text,
        created_by -> Text,
        idempotency_key -> Nullable<Text>,
        request_fingerprint -> Nullable<Text>,
        referent_name -> Text,
        referent_email -> Text,
        referent_phone -> Nullable<Text>,
        parent_situation -> Text,
        single_parent -> Bool,
        qpv_resident -> Bool,
        desired_start_date -> Nullable<Date>,
        days_per_week -> Nullable<Integer>,
        atypical_hours -> Bool,
        insertion_project_kind -> Text,
        consent_given -> Bool,
        consent_date -> Date,
        status -> Text,
        received_at -> Timestamp,
        first_response_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        sla_due_at -> Nullable<Timestamp>,
        sla_stage -> Nullable<Text>,
        sla_policy_version -> Nullable<Integer>,
        anonymised_at -> Nullable<Timestamp>,
        closing_reason -> Nullable<Text>,
        sla_next_at -> Nullable<Timestamp>,
        change_xid -> BigInt,
        change_seq -> BigInt,
    }
}

diesel::table! {
    referral_families (referral_id) {
        referral_id -> Text,
        parent_first_name -> Text,
        parent_last_name -> Text,
        parent_phone -> Nullable<Text>,
        parent_email -> Nullable<Text>,
        parent_postal_code -> Text,
        parent_commune -> Text,
        france_travail_id -> Nullable<Text>,
        needs_notes -> Nullable<Text>,
        insertion_project_description -> Nullable<Text>,
        pseudonym -> Nullable<Text>,
        age_bracket -> Nullable<Text>,
        search_text -> Text,
        parent_contact -> Nullable<Text>,
    }
}

diesel::table! {
    referral_children (id) {
        id -> Text,
        referral_id -> Text,
        position -> Integer,
        first_name -> Text,
        birth_date -> Date,
    }
}

diesel::table! {
    referral_events (id) {
        id -> Text,
        referral_id -> Text,
        kind -> Text,
        occurred_at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        from_status -> Nullable<Text>,
        to_status -> Nullable<Text>,
        reason -> Nullable<Text>,
        note -> Nullable<Text>,
        data -> Nullable<Text>,
    }
}

diesel::table! {
    referral_child_claims (creche_id, child_key) {
        creche_id -> Text,
        child_key -> Text,
        referral_id -> Text,
    }
}

diesel::table! {
    referral_follow_ups (id) {
        id -> Text,
        referral_id -> Text,
        date -> Date,
        participants -> Text,
        employment_status -> Text,
        next_steps -> Nullable<Text>,
        next_date -> Nullable<Date>,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    referral_enrollments (referral_id) {
        referral_id -> Text,
        start_date -> Date,
        contract_end_date -> Date,
        days -> Text,
        hours_from -> Nullable<Text>,
        hours_to -> Nullable<Text>,
        renewals -> Integer,
        exit_date -> Nullable<Date>,
        exit_reason -> Nullable<Text>,
        exit_employment_status -> Nullable<Text>,
        positive_exit -> Nullable<Bool>,
        childcare_solution -> Nullable<Text>,
        exit_note -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        follow_up_notice_at -> Nullable<Timestamp>,
        contract_notice_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sla_policies (version) {
        version -> Integer,
        fingerprint -> Text,
        policy -> Text,
        activated_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        dedup_key -> Text,
        kind -> Text,
        referral_id -> Nullable<Text>,
        recipients -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        channel -> Text,
        calendar -> Nullable<Text>,
    }
}

diesel::table! {
    creche_capacity (creche_id, effective_from) {
        creche_id -> Text,
        effective_from -> Date,
        avip_places -> Integer,
        recorded_at -> Timestamp,
        recorded_by -> Nullable<Text>,
    }
}

diesel::table! {
    place_bookings (referral_id, kind, starts_on) {
        referral_id -> Text,
        kind -> Text,
        creche_id -> Text,
        places -> Integer,
        starts_on -> Date,
        ends_before -> Date,
        days -> Integer,
    }
}

diesel::table! {
    place_steps (creche_id, day) {
        creche_id -> Text,
        day -> Date,
        held_mon -> Integer,
        held_tue -> Integer,
        held_wed -> Integer,
        held_thu -> Integer,
        held_fri -> Integer,
        held_sat -> Integer,
        held_sun -> Integer,
        occupied_mon -> Integer,
        occupied_tue -> Integer,
        occupied_wed -> Integer,
        occupied_thu -> Integer,
        occupied_fri -> Integer,
        occupied_sat -> Integer,
        occupied_sun -> Integer,
    }
}

diesel::table! {
    referral_needs (referral_id) {
        referral_id -> Text,
        days -> Integer,
        hours_from -> Nullable<Text>,
        hours_to -> Nullable<Text>,
    }
}

diesel::table! {
    creche_closures (id) {
        id -> Text,
        creche_id -> Text,
        starts_on -> Date,
        ends_on -> Date,
        label -> Text,
        created_at -> Timestamp,
        created_by -> Nullable<Text>,
    }
}

diesel::table! {
    exit_outcomes (referral_id, at) {
        referral_id -> Text,
        at -> Text,
        due_on -> Date,
        requested_at -> Nullable<Timestamp>,
        reminded_at -> Nullable<Timestamp>,
        answered_at -> Nullable<Timestamp>,
        situation -> Nullable<Text>,
        answered_via -> Nullable<Text>,
    }
}

diesel::table! {
    indicator_days (day, creche_id, prescriber_organization_id) {
        day -> Date,
        creche_id -> Text,
        prescriber_organization_id -> Text,
        received -> Integer,
        answered -> Integer,
        within_deadline -> Integer,
        late -> Integer,
        offers -> Integer,
        enrollments -> Integer,
        exits -> Integer,
        positive_exits -> Integer,
        lasting_solutions -> Integer,
        exits_in_work -> Integer,
        exits_in_training -> Integer,
        asked_3 -> Integer,
        answered_3 -> Integer,
        in_work_3 -> Integer,
        in_training_3 -> Integer,
        asked_6 -> Integer,
        answered_6 -> Integer,
        in_work_6 -> Integer,
        in_training_6 -> Integer,
        response_seconds -> Text,
    }
}

diesel::table! {
    referral_tallies (referral_id) {
        referral_id -> Text,
        day -> Date,
        creche_id -> Text,
        prescriber_organization_id -> Text,
        tally -> Text,
    }
}

diesel::table! {
    indicator_state (id) {
        id -> Integer,
        built_at -> Timestamp,
    }
}

diesel::table! {
    planned_exits (referral_id) {
        referral_id -> Text,
        exit_date -> Date,
        reason -> Text,
        employment_status -> Text,
        positive -> Bool,
        childcare_solution -> Text,
        note -> Nullable<Text>,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        planned_at -> Timestamp,
    }
}

diesel::table! {
    service_keys (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    evaluation_exports (id) {
        id -> Text,
        exported_at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        format -> Text,
        received_from -> Timestamp,
        received_before -> Timestamp,
    }
}

diesel::table! {
    access_log (id) {
        id -> Text,
        at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        organization_id -> Text,
        operation -> Text,
        request_id -> Nullable<Text>,
        referral_ids -> Text,
    }
}

diesel::table! {
    access_log_referrals (referral_id, access_id) {
        referral_id -> Text,
        access_id -> Text,
    }
}

diesel::table! {
    evaluation_export_creches (export_id, creche_id) {
        export_id -> Text,
        creche_id -> Text,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        organization_id -> Text,
        url -> Text,
        events -> Text,
        secret -> Text,
        active -> Bool,
        disabled_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        event_type -> Text,
        referral_id -> Nullable<Text>,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notification_preferences (owner, notice) {
        owner -> Text,
        notice -> Text,
        mode -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    digest_items (id) {
        id -> Text,
        dedup_key -> Text,
        recipient -> Text,
        notice -> Text,
        referral_id -> Nullable<Text>,
        title -> Text,
        link -> Text,
        created_at -> Timestamp,
        digest_key -> Nullable<Text>,
    }
}

diesel::table! {
    meeting_slots (id) {
        id -> Text,
        creche_id -> Text,
        starts_at -> Timestamp,
        minutes -> Integer,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        referral_id -> Nullable<Text>,
        booked_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        outcome_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    meeting_invitations (id) {
        id -> Text,
        referral_id -> Text,
        slot_ids -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        used_at -> Nullable<Timestamp>,
        choice -> Nullable<Text>,
        slot_id -> Nullable<Text>,
    }
}

diesel::joinable!(creches -> organizations (operator_id));
diesel::joinable!(evaluation_export_creches -> evaluation_exports (export_id));
diesel::joinable!(evaluation_export_creches -> creches (creche_id));
diesel::joinable!(creche_capacity -> creches (creche_id));
diesel::joinable!(place_bookings -> creches (creche_id));
diesel::joinable!(place_steps -> creches (creche_id));
diesel::joinable!(freed_places -> creches (creche_id));
diesel::joinable!(creche_closures -> creches (creche_id));
diesel::joinable!(planned_exits -> referrals (referral_id));
diesel::joinable!(exit_outcomes -> referrals (referral_id));
diesel::joinable!(meeting_slots -> creches (creche_id));
diesel::joinable!(meeting_invitations -> referrals (referral_id));
diesel::joinable!(referral_needs -> referrals (referral_id));
diesel::joinable!(users -> organizations (organization_id));
diesel::joinable!(creche_coordinators -> creches (creche_id));
diesel::joinable!(creche_coordinators -> users (user_id));
diesel::joinable!(api_clients -> organizations (organization_id));
diesel::joinable!(referrals -> creches (creche_id));
diesel::joinable!(referral_families -> referrals (referral_id));
diesel::joinable!(referral_children -> referrals (referral_id));
diesel::joinable!(referral_events -> referrals (referral_id));
diesel::joinable!(referral_child_claims -> referrals (referral_id));
diesel::joinable!(referral_follow_ups -> referrals (referral_id));
diesel::joinable!(referral_enrollments -> referrals (referral_id));
diesel::joinable!(notifications -> referrals (referral_id));
diesel::joinable!(webhooks -> organizations (organization_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));

diesel::table! {
    imports (id) {
        id -> Text,
        creche_id -> Text,
        kind -> Text,
        file_name -> Text,
        sheet -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        committed_at -> Nullable<Timestamp>,
        rows_total -> Integer,
        created -> Integer,
        updated -> Integer,
        unchanged -> Integer,
        skipped -> Integer,
    }
}

diesel::joinable!(imports -> creches (creche_id));

diesel::allow_tables_to_appear_in_same_query!(
    imports,
    organizations,
    creches,
    creche_closures,
    referral_needs,
    users,
    creche_coordinators,
    api_clients,
    reference_counters,
    referrals,
    referral_families,
    referral_children,
    referral_events,
    login_throttle,
    referral_child_claims,
    referral_follow_ups,
    referral_enrollments,
    sla_policies,
    notifications,
    creche_capacity,
    place_bookings,
    place_steps,
    freed_places,
    job_marks,
    meeting_slots,
    meeting_invitations,
    planned_exits,
    exit_outcomes,
    indicator_days,
    referral_tallies,
    indicator_state,
    service_keys,
    evaluation_exports,
    evaluation_export_creches,
    access_log,
    access_log_referrals,
    web_sessions,
    oidc_attempts,
    identity_epoch,
    webhooks,
    webhook_deliveries,
    notification_preferences,
    digest_items,
);

diesel::table! {
    web_sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        csrf -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        id_token -> Nullable<Text>,
        credentials_version -> Integer,
    }
}

diesel::table! {
    oidc_attempts (state_hash) {
        state_hash -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        next -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_throttle (account) {
        account -> Text,
        failures -> Integer,
        first_failure_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    identity_epoch (id) {
        id -> SmallInt,
        n -> BigInt,
    }
}

diesel::table! {
    job_marks (key) {
        key -> Text,
        done_at -> Timestamp,
    }
}

diesel::table! {
    freed_places (key) {
        key -> Text,
        creche_id -> Text,
        days -> Integer,
        free_from -> Date,
        cause -> Text,
        recorded_at -> Timestamp,
        matched_at -> Nullable<Timestamp>,
    }
}
